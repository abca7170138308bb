"""The quality service: the facts that performance measures need (enrolments, assessments), the
measure engine, and the scores that feed performance-based payment."""
