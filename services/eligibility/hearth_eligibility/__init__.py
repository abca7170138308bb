"""The eligibility service: who is covered, who meets the clinical criteria, who is enrolled, in
which tier, and when they leave."""
