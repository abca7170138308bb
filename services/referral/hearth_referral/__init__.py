"""The referral service: how members reach the program, the quarterback's work, the initial
assessment, and the closed-loop status back to the referrer."""
