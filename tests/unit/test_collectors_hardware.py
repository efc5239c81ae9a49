"""The processor's name from /proc/cpuinfo, and firmware placeholders in DMI fields."""

from __future__ import annotations

from forewarn.agent.collectors.hardware import clean_dmi, parse_cpuinfo_model

X86 = """\
processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 140
model name\t: 11th Gen Intel(R) Core(TM) i5-1135G7 @ 2.40GHz
stepping\t: 1
cpu cores\t: 4

processor\t: 1
vendor_id\t: GenuineIntel
model name\t: 11th Gen Intel(R) Core(TM) i5-1135G7 @ 2.40GHz
"""

# Raspberry Pi OS, 32-bit: numbered "processor" lines, the SoC under "Hardware".
ARM32 = """\
processor\t: 0
model name\t: ARMv7 Processor rev 3 (v7l)
BogoMIPS\t: 108.00
Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32
CPU implementer\t: 0x41

Hardware\t: BCM2711
Revision\t: c03114
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""

# Old ARM kernels: "Processor" names the core, lowercase "processor" numbers it.
ARM_OLD = """\
Processor\t: ARMv6-compatible processor rev 7 (v6l)
processor\t: 0
Hardware\t: BCM2708
"""

ARM64_BARE = """\
processor\t: 0
BogoMIPS\t: 50.00
CPU implementer\t: 0x41
CPU part\t: 0xd0c

Hardware\t: Amazon Graviton
"""

POWER = "processor\t: 0\ncpu\t\t: POWER9 (architected), altivec supported\nclock\t\t: 2.2GHz\n"


def test_x86_model_name() -> None:
    assert parse_cpuinfo_model(X86) == "11th Gen Intel(R) Core(TM) i5-1135G7 @ 2.40GHz"


def test_arm_and_power_fallbacks() -> None:
    assert parse_cpuinfo_model(ARM32) == "ARMv7 Processor rev 3 (v7l)"
    assert parse_cpuinfo_model(ARM_OLD) == "ARMv6-compatible processor rev 7 (v6l)"
    assert parse_cpuinfo_model(ARM64_BARE) == "Amazon Graviton"
    assert parse_cpuinfo_model(POWER) == "POWER9 (architected), altivec supported"


def test_cpuinfo_without_a_name_or_malformed() -> None:
    assert parse_cpuinfo_model("") == ""
    assert parse_cpuinfo_model("processor : 0\nno colon here\n: value without key\n") == ""
    assert parse_cpuinfo_model("model name\t:   Spaced    Out  CPU  \n") == "Spaced Out CPU"


def test_dmi_placeholders_identify_nothing() -> None:
    assert clean_dmi("To Be Filled By O.E.M.") == ""
    assert clean_dmi("Default string") == ""
    assert clean_dmi("System Serial Number") == ""
    assert clean_dmi("  LENOVO  ") == "LENOVO"
    assert clean_dmi("20XW0055GE") == "20XW0055GE"
