"""An example FastAPI app for Lancet.

    lancet examples.app:app                 # from the repository root
    lancet app:app --app-dir examples       # the same, from anywhere with --app-dir

Routes:
    GET  /                      JSON
    GET  /items/{item_id}?q=..  a path parameter (validated as an int) and a query parameter
    POST /items                 a JSON body, validated by pydantic
    GET  /stream?n=5            a streaming (chunked) response, one line every 0.1 s
"""
from __future__ import annotations

import asyncio
from typing import AsyncIterator, Optional

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

app = FastAPI(title="Lancet example")


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@app.get("/")
async def root() -> dict:
    return {"message": "Hello from Lancet", "server": "lancet"}


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: Optional[str] = None) -> dict:
    return {"item_id": item_id, "q": q}


@app.post("/items")
async def create_item(item: Item) -> dict:
    return {"created": item.dict()}


@app.get("/stream")
async def stream(n: int = 5) -> StreamingResponse:
    async def lines() -> AsyncIterator[bytes]:
        for i in range(n):
            yield f"line {i}\n".encode()
            await asyncio.sleep(0.1)

    return StreamingResponse(lines(), media_type="text/plain")
