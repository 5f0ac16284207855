"""Exports for partners and data officers: FHIR R4 resources and CSV/JSON reports.

with db.read_session() as s:
    bundle(unlock_audit_events(s, home, since, until), now=utcnow())
    ring_answers(s, homes={home}, since=since, until=until)
"""
