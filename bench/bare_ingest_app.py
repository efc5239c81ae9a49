"""The framework's ceiling for bench_ingest.py: parse the same batch, store nothing, answer."""

from __future__ import annotations

import time

from fastapi import FastAPI, Request

from forewarn.wire import Batch, BatchAnswer

app = FastAPI()


@app.post("/api/v1/agent/checkin")
async def checkin(request: Request) -> BatchAnswer:
    batch = Batch.model_validate_json(await request.body())
    return BatchAnswer(batch_id=batch.batch_id, status="stored", server_time=time.time())
