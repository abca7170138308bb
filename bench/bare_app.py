"""The baseline for HTTP benchmarks: a bare FastAPI JSON endpoint with a validated body and no
database, served the same way as the services (uvicorn, one worker)."""

from datetime import date

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Body(BaseModel):
    member_id: str
    source: str
    referrer_id: str
    referral_date: date
    goals_of_care_discussed: bool | None = None


@app.post("/echo", status_code=201)
async def echo(body: Body) -> dict[str, str]:
    return {"member_id": body.member_id, "status": "received"}
