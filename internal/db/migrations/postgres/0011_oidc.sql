-- Single sign-on with OpenID Connect (issue #3), PostgreSQL dialect. Keep in step
-- with ../sqlite/0011_oidc.sql.

-- The stable link from an identity provider's subject to a Ward user: an
-- ID token's (iss, sub) pair never changes for a person, unlike their email
-- (45 CFR 164.312(a)(2)(i), unique user identification). A user may have
-- links from several issuers; a subject links to one user.
CREATE TABLE user_identities (
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id),
    created_at    TIMESTAMPTZ NOT NULL,
    last_login_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);
