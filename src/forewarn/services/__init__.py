"""Use cases. Each public function is one unit of work over a Database; faces call these."""
