-- Classifying incidents that alerts of PHI services open (issue #14), postgres
-- dialect. Keep in step with ../sqlite/0025_incident_triage.sql.

-- An alert from a service that handles PHI no longer presumes a breach:
-- Ward asks a responder whether the incident is a security incident
-- (45 CFR 164.304) and whether PHI is involved. asked_at is kept as a
-- candidate discovery date (164.404(a)(2)); reason says why it was asked
-- (the service's name, no PHI). The answer is NULL until given.
CREATE TABLE incident_triage (
    incident_id       TEXT PRIMARY KEY REFERENCES incidents (id),
    asked_at          TIMESTAMP NOT NULL,
    reason            TEXT NOT NULL,
    answered_at       TIMESTAMP,
    answered_by       TEXT NOT NULL DEFAULT '',
    security_incident BOOLEAN,
    phi_involved      BOOLEAN
);
