"""Erasure (GDPR art. 5(1)(e), 17): the jobcenter's orders (orders.py), and the job that erases every
participant whose retention has passed or whose erasure was ordered, announcing each with
participant.erased.v1 (job.py).

What one erasure removes, in one transaction: the participant row (CPR ciphertext, pseudonym, dates,
coach), its idempotency rows, the outbox rows whose events name it (already published: the stream's
copies are the stream eraser's), and the participant id in the CPR audit (nulled; the rows stay). What
stays: the erasure record (the participant id, programme, basis, reason code, who ordered it, when), and
the seat the citizen took (capacity counts who was enrolled).
"""

from services.intake.services.erasure.job import ErasureRun, erasure_job, run_erasures
from services.intake.services.erasure.orders import ErasurePage, OrderAnswer, list_erasures, order_erasure

__all__ = [
    "ErasurePage",
    "ErasureRun",
    "OrderAnswer",
    "erasure_job",
    "list_erasures",
    "order_erasure",
    "run_erasures",
]
