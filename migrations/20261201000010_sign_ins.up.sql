-- Who uses which MFA method: from the interactive sign-in log, per person and UTC day, the
-- successful MFA steps by method. Nothing else of a sign-in is kept (no address, place or app),
-- and the counts outlive the log's 30 days.
CREATE TABLE mfa_usage (
    user_id UUID NOT NULL,
    day     DATE NOT NULL,
    -- As the log wrote it ("Text message", "Mobile app notification", or a text not known).
    method  TEXT NOT NULL,
    class   TEXT NOT NULL CHECK (class IN ('sms', 'voice', 'app', 'phishing_resistant', 'other')),
    count   INTEGER NOT NULL CHECK (count > 0),
    PRIMARY KEY (user_id, day, method)
);
CREATE INDEX mfa_usage_by_day ON mfa_usage (day, class);

-- Per person, for the list: the last day they used SMS or voice, and how often in the last 30
-- days (as of `as_of`). Rebuilt after each read of the log.
CREATE TABLE phone_usage (
    user_id        UUID PRIMARY KEY,
    last_phone_mfa DATE,
    phone_mfa_30d  INTEGER NOT NULL,
    as_of          DATE NOT NULL
);
CREATE INDEX phone_usage_by_use ON phone_usage (phone_mfa_30d DESC, user_id);

-- Where the reading of the log stopped, and the ids of the sign-ins counted in the last few
-- minutes before it: the next read starts a little earlier (the log is late by minutes) and
-- skips those.
CREATE TABLE sign_in_cursor (
    only_row   BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
    read_until TIMESTAMPTZ NOT NULL,
    -- Where the read began (the first read: PHONELESS_SIGNIN_DAYS back).
    read_from  TIMESTAMPTZ NOT NULL
);
CREATE TABLE sign_ins_seen (
    id         TEXT PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sign_ins_seen_by_time ON sign_ins_seen (created_at);

ALTER TABLE run_parts DROP CONSTRAINT run_parts_part_check;
ALTER TABLE run_parts ADD CONSTRAINT run_parts_part_check
    CHECK (part IN ('methods_policy', 'strengths', 'conditional_access', 'memberships', 'audit',
                    'roles', 'sign_ins'));
