-- The helpdesk lookup: search by name or UPN (prefix, case and accents folded), and the
-- access log of every lookup and user-page view.

-- unaccent ships with PostgreSQL and is a trusted extension (a database owner may create it).
-- It is not IMMUTABLE (its dictionary could change), so a wrapper that names the dictionary
-- is declared so, as indexes on it need.
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE FUNCTION phoneless_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN lower(unaccent('unaccent'::regdictionary, $1));

-- Prefix searches (LIKE 'text%') on the folded name and UPN of current users.
CREATE INDEX user_versions_fold_name ON user_versions (phoneless_fold(display_name) text_pattern_ops)
    WHERE ended_run IS NULL;
CREATE INDEX user_versions_fold_upn ON user_versions (phoneless_fold(upn) text_pattern_ops)
    WHERE ended_run IS NULL;
-- A later word of the name ("yama" finds "Björn Yamamoto"): trigrams of the folded name.
CREATE INDEX user_versions_fold_name_words ON user_versions
    USING gin (phoneless_fold(display_name) gin_trgm_ops)
    WHERE ended_run IS NULL;

-- Who looked at whom: every search and every view of a user's page or JSON. Kept as long as
-- the database (retention is the operator's policy).
CREATE TABLE access_log (
    id        BIGSERIAL PRIMARY KEY,
    at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Who looked: the signed-in person, or the configured local identity while sign-in is off.
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL CHECK (action IN ('search', 'view', 'api_view')),
    -- Whom: the user viewed (NULL for a search).
    subject   UUID,
    -- What was typed (searches), and the subject's UPN when known, for reading the log later.
    detail    TEXT NOT NULL DEFAULT '',
    -- From where: the client's address as the server saw it.
    client    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX access_log_by_actor ON access_log (actor, id);
CREATE INDEX access_log_by_subject ON access_log (subject, id);
