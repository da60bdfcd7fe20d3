-- Placeholder for another helper's 0046 (local testing only, never committed).
SELECT 1;
