-- Guarded write actions (a Temporary Access Pass, a time-boxed exclusion-group entry) and the
-- helpdesk's reason why a person is still on the phone.

-- The access log records actions and refusals too: why (the agent's reason) and the outcome in
-- words ("issued", "refused: …", "failed: …"). A pass itself is never recorded anywhere.
ALTER TABLE access_log ADD COLUMN reason TEXT, ADD COLUMN outcome TEXT;
ALTER TABLE access_log DROP CONSTRAINT access_log_action_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_action_check
    CHECK (action IN ('search', 'view', 'api_view', 'sign_in', 'sign_out', 'session_revoked',
                      'tap', 'allowlist_add', 'allowlist_extend', 'allowlist_end',
                      'allowlist_expire', 'phone_reason'));
-- The pass limit counts an agent's issued passes in a window.
CREATE INDEX access_log_actions ON access_log (action, actor, at) WHERE outcome IS NOT NULL;

-- A time-boxed place in a watched exclusion group, added through phoneless. Open while
-- `ended_at` is NULL; the worker in `serve` removes the member at `until` (claimed with a
-- lease, so one replica does it), and a removal seen by the sync closes it too.
CREATE TABLE allowlist_entries (
    id              BIGSERIAL PRIMARY KEY,
    group_id        UUID NOT NULL,
    -- The group's and the person's names when added, for the alerts and the pages.
    group_name      TEXT NOT NULL,
    user_id         UUID NOT NULL,
    upn             TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    reason          TEXT NOT NULL CHECK (reason <> ''),
    added_by        TEXT NOT NULL,
    added_by_object UUID,
    added_at        TIMESTAMPTZ NOT NULL,
    until           TIMESTAMPTZ NOT NULL,
    -- A sync has seen them in the group since the entry was added: from then on, a sync that
    -- no longer sees them closes the entry (removed by hand). Until then a sync may have read
    -- the members before the add, so its not seeing them says nothing.
    seen_in_group   BOOLEAN NOT NULL DEFAULT FALSE,
    ended_at        TIMESTAMPTZ,
    -- `expired` (removed at its end), `ended` (ended early by someone), `removed_outside`
    -- (gone from the group before its end, seen by a sync).
    end_kind        TEXT CHECK (end_kind IN ('expired', 'ended', 'removed_outside')),
    ended_by        TEXT,
    -- The worker's claim on a due removal, and its last failure.
    lease_owner     TEXT,
    lease_until     TIMESTAMPTZ,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    CHECK ((ended_at IS NULL) = (end_kind IS NULL))
);
CREATE UNIQUE INDEX allowlist_entries_open ON allowlist_entries (group_id, user_id)
    WHERE ended_at IS NULL;
CREATE INDEX allowlist_entries_due ON allowlist_entries (until) WHERE ended_at IS NULL;
CREATE INDEX allowlist_entries_by_user ON allowlist_entries (user_id, id);

ALTER TABLE alerts DROP CONSTRAINT alerts_kind_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_kind_check
    CHECK (kind IN ('member_joined', 'policy_changed', 'sync_failing', 'admin_blocked',
                    'allowlist_added', 'allowlist_removed'));

-- Why a person is still on the phone, as the helpdesk recorded it. One row per recording; the
-- current one has `cleared_at` NULL. A new recording clears the previous one, and so does the
-- sync when the person leaves the phone states (kept as history).
CREATE TABLE phone_reasons (
    id         BIGSERIAL PRIMARY KEY,
    user_id    UUID NOT NULL,
    reason     TEXT NOT NULL CHECK (reason IN ('no_smartphone', 'refuses_personal_phone',
                                               'no_phone_at_work', 'waiting_for_security_key',
                                               'travelling', 'other')),
    note       TEXT NOT NULL DEFAULT '',
    follow_up  DATE,
    set_by     TEXT NOT NULL,
    set_at     TIMESTAMPTZ NOT NULL,
    cleared_at TIMESTAMPTZ,
    -- `replaced` (a newer reason), `left_phone` (the sync saw them leave the phone states),
    -- `removed` (someone removed it).
    cleared_by TEXT
);
CREATE UNIQUE INDEX phone_reasons_current ON phone_reasons (user_id) WHERE cleared_at IS NULL;
CREATE INDEX phone_reasons_by_user ON phone_reasons (user_id, id);
