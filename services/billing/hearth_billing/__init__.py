"""The billing service: contracts as versioned data, the ledger (assessment-fee accruals and
enrolment spans), and the month close that turns member-months and fees into invoices."""
