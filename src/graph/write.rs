//! The guarded write actions' side of Graph: a person's Temporary Access Pass (read and issue,
//! graph-api.md §4), their group memberships (checked, and changed one at a time through
//! `/$ref`, §7), and a live re-read of their directory entry before acting.
//!
//! Writes are paced ([`super::WRITE_RATE`]) and repeated only when Graph certainly did nothing
//! (see [`Client::send`]). The pass itself is held in a [`SecretString`] from the moment it is
//! read: it is in no log line, error or `Debug` output.

use super::model::{
    CHECK_MEMBER_GROUPS_MAX, CheckMemberGroups, DirectoryUser, ObjectReference, Page,
    TemporaryAccessPassMethod, TemporaryAccessPassRequest,
};
use super::{Answer, Call, Client, Endpoint, GraphError, Write, read_refusal, write_refusal};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use secrecy::SecretString;
use uuid::Uuid;

/// What `GET /users/{id}` selects for the re-check before a write: enough to refuse a guest,
/// an external or a disabled account.
pub const WRITE_CHECK_SELECT: &str =
    "id,userPrincipalName,displayName,userType,accountEnabled,creationType,externalUserState";

const ISSUE_TAP: Write = Write {
    action: "issue a Temporary Access Pass",
    permission: "UserAuthenticationMethod.ReadWrite.All (or the narrower UserAuthMethod-TAP.ReadWrite.All)",
};
const ADD_MEMBER: Write = Write {
    action: "add the person to the group",
    permission: "GroupMember.ReadWrite.All",
};
const REMOVE_MEMBER: Write = Write {
    action: "remove the person from the group",
    permission: "GroupMember.ReadWrite.All",
};

/// What to ask for when issuing a Temporary Access Pass; `None` takes the methods policy's
/// default (its `defaultLifetimeInMinutes`, its `isUsableOnce`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TapRequest {
    pub lifetime_minutes: Option<i32>,
    pub usable_once: Option<bool>,
}

/// A Temporary Access Pass just issued (Graph's `201 Created`): the only time the pass itself
/// is known. Its `Debug` shows the pass as redacted.
#[derive(Debug)]
pub struct TapCreated {
    /// `temporaryAccessPass`: show it to the person once; never log or store it.
    pub pass: SecretString,
    pub created_at: DateTime<Utc>,
    pub starts_at: DateTime<Utc>,
    pub lifetime_minutes: i32,
    pub usable_once: bool,
}

impl TapCreated {
    /// When the pass stops working.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.starts_at + chrono::Duration::minutes(i64::from(self.lifetime_minutes))
    }
}

/// A Temporary Access Pass as a list shows it (without the pass).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapMethod {
    pub id: String,
    pub created_at: Option<DateTime<Utc>>,
    pub starts_at: Option<DateTime<Utc>>,
    pub lifetime_minutes: i32,
    pub usable_once: bool,
    pub is_usable: bool,
    /// `methodUsabilityReason`: `EnabledByPolicy`, `DisabledByPolicy`, `Expired`,
    /// `NotYetValid`, `OneTimeUsed`.
    pub usability_reason: Option<String>,
}

/// What a membership write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// Added or removed as asked.
    Changed,
    /// Nothing to do: already a member (add: Graph's 400), or not a member (remove: Graph's
    /// 404).
    Unchanged,
}

impl From<TemporaryAccessPassMethod> for TapMethod {
    fn from(m: TemporaryAccessPassMethod) -> Self {
        TapMethod {
            id: m.id,
            created_at: m.created_date_time,
            starts_at: m.start_date_time,
            lifetime_minutes: m.lifetime_in_minutes.unwrap_or_default(),
            usable_once: m.is_usable_once.unwrap_or_default(),
            is_usable: m.is_usable.unwrap_or_default(),
            usability_reason: m.method_usability_reason,
        }
    }
}

impl Client {
    /// `GET /users/{id}/authentication/temporaryAccessPassMethods`: the person's pass, if any
    /// (one at most), without the pass itself.
    pub async fn temporary_access_passes(&self, user: Uuid) -> Result<Vec<TapMethod>, GraphError> {
        let url = format!(
            "{}/v1.0/users/{user}/authentication/temporaryAccessPassMethods",
            self.base()
        );
        let methods: Vec<TemporaryAccessPassMethod> =
            self.collect(Endpoint::TemporaryAccessPass, url).await?;
        Ok(methods.into_iter().map(TapMethod::from).collect())
    }

    /// `POST /users/{id}/authentication/temporaryAccessPassMethods`: issues a pass, replacing
    /// the person's previous one. Graph checks it against the methods policy; its refusal
    /// comes back as [`GraphError::WriteRejected`] with Graph's words.
    pub async fn create_temporary_access_pass(
        &self,
        user: Uuid,
        req: &TapRequest,
    ) -> Result<TapCreated, GraphError> {
        let url = format!(
            "{}/v1.0/users/{user}/authentication/temporaryAccessPassMethods",
            self.base()
        );
        let body = to_json(&TemporaryAccessPassRequest {
            start_date_time: None,
            lifetime_in_minutes: req.lifetime_minutes,
            is_usable_once: req.usable_once,
        })?;
        let answer = self
            .send(Call {
                endpoint: Endpoint::TemporaryAccessPass,
                method: reqwest::Method::POST,
                url: &url,
                body: Some(&body),
                write: Some(ISSUE_TAP),
            })
            .await?;
        let body = match answer {
            Answer::Done { body } => body,
            Answer::Refused {
                status,
                code,
                message,
            } => return Err(write_refusal(ISSUE_TAP, status, code, message)),
        };
        // Issued, but the pass cannot be shown: the person has a pass nobody knows.
        let malformed = |detail: String| GraphError::WriteUncertain {
            action: ISSUE_TAP.action,
            detail: format!("Graph answered 201 Created, but {detail}"),
        };
        // serde's message may quote the value it could not read: only its place is kept.
        let created: TemporaryAccessPassMethod = serde_json::from_slice(&body).map_err(|e| {
            malformed(format!(
                "its answer is not a temporaryAccessPassAuthenticationMethod (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let Some(pass) = created.temporary_access_pass.filter(|p| !p.is_empty()) else {
            return Err(malformed(
                "its answer holds no temporaryAccessPass".to_owned(),
            ));
        };
        let pass = SecretString::from(pass);
        let Some(lifetime_minutes) = created.lifetime_in_minutes else {
            return Err(malformed(
                "its answer holds no lifetimeInMinutes".to_owned(),
            ));
        };
        let created_at = created.created_date_time.unwrap_or_else(Utc::now);
        Ok(TapCreated {
            pass,
            created_at,
            starts_at: created.start_date_time.unwrap_or(created_at),
            lifetime_minutes,
            usable_once: created.is_usable_once.unwrap_or_default(),
        })
    }

    /// `POST /users/{id}/checkMemberGroups`: which of `groups` the person is in, nested groups
    /// counted, in the order given. Asked [`CHECK_MEMBER_GROUPS_MAX`] groups at a time, the
    /// most Graph takes. A read: repeated like the others.
    pub async fn member_groups(
        &self,
        user: Uuid,
        groups: &[Uuid],
    ) -> Result<Vec<Uuid>, GraphError> {
        let url = format!("{}/v1.0/users/{user}/checkMemberGroups", self.base());
        let mut found = Vec::new();
        for chunk in groups.chunks(CHECK_MEMBER_GROUPS_MAX) {
            let body = to_json(&CheckMemberGroups {
                group_ids: chunk.iter().map(Uuid::to_string).collect(),
            })?;
            let answer = self
                .send(Call {
                    endpoint: Endpoint::MemberGroups,
                    method: reqwest::Method::POST,
                    url: &url,
                    body: Some(&body),
                    write: None,
                })
                .await?;
            let body = match answer {
                Answer::Done { body } => body,
                Answer::Refused {
                    status,
                    code,
                    message,
                } => {
                    return Err(read_refusal(
                        Endpoint::MemberGroups,
                        status,
                        &code,
                        &message,
                    ));
                }
            };
            let page: Page<String> =
                serde_json::from_slice(&body).map_err(|e| GraphError::Malformed {
                    what: Endpoint::MemberGroups.what(),
                    detail: e.to_string(),
                })?;
            for id in page.value {
                let id = Uuid::parse_str(&id).map_err(|_| GraphError::Malformed {
                    what: Endpoint::MemberGroups.what(),
                    detail: format!("{id:?} is not a group id"),
                })?;
                found.push(id);
            }
        }
        Ok(groups
            .iter()
            .copied()
            .filter(|g| found.contains(g))
            .collect())
    }

    /// `GET /users/{id}` with [`WRITE_CHECK_SELECT`]: the person as the directory has them
    /// now, `None` when they do not exist (404).
    pub async fn user(&self, user: Uuid) -> Result<Option<DirectoryUser>, GraphError> {
        let url = format!(
            "{}/v1.0/users/{user}?$select={WRITE_CHECK_SELECT}",
            self.base()
        );
        match self.get(Endpoint::User, &url).await {
            Ok(found) => Ok(Some(found)),
            Err(GraphError::Http { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /groups/{gid}/members/$ref` with the person as a directory object.
    /// [`Membership::Unchanged`] when they already were a member.
    pub async fn add_group_member(
        &self,
        group: Uuid,
        user: Uuid,
    ) -> Result<Membership, GraphError> {
        let url = format!("{}/v1.0/groups/{group}/members/$ref", self.base());
        let body = to_json(&ObjectReference {
            odata_id: format!("{}/v1.0/directoryObjects/{user}", self.base()),
        })?;
        let answer = self
            .send(Call {
                endpoint: Endpoint::GroupMembership,
                method: reqwest::Method::POST,
                url: &url,
                body: Some(&body),
                write: Some(ADD_MEMBER),
            })
            .await?;
        match answer {
            Answer::Done { .. } => Ok(Membership::Changed),
            // "One or more added object references already exist for the following modified
            // properties: 'members'."
            Answer::Refused {
                status: StatusCode::BAD_REQUEST,
                message,
                ..
            } if message.contains("already exist") => Ok(Membership::Unchanged),
            Answer::Refused {
                status,
                code,
                message,
            } => Err(write_refusal(ADD_MEMBER, status, code, message)),
        }
    }

    /// `DELETE /groups/{gid}/members/{uid}/$ref`: the membership, never the person. Without
    /// `/$ref` Graph deletes the directory object itself (graph-api.md §7), so the URL is
    /// made here and nowhere else. [`Membership::Unchanged`] when they were not a member.
    pub async fn remove_group_member(
        &self,
        group: Uuid,
        user: Uuid,
    ) -> Result<Membership, GraphError> {
        let url = format!("{}/v1.0/groups/{group}/members/{user}/$ref", self.base());
        let answer = self
            .send(Call {
                endpoint: Endpoint::GroupMembership,
                method: reqwest::Method::DELETE,
                url: &url,
                body: None,
                write: Some(REMOVE_MEMBER),
            })
            .await?;
        match answer {
            Answer::Done { .. } => Ok(Membership::Changed),
            Answer::Refused {
                status: StatusCode::NOT_FOUND,
                ..
            } => Ok(Membership::Unchanged),
            Answer::Refused {
                status,
                code,
                message,
            } => Err(write_refusal(REMOVE_MEMBER, status, code, message)),
        }
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, GraphError> {
    serde_json::to_value(value).map_err(|e| GraphError::Config(format!("request body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    #[test]
    fn debug_output_never_shows_the_pass() {
        let created = TapCreated {
            pass: SecretString::from("Xy7#kP2q".to_owned()),
            created_at: Utc::now(),
            starts_at: Utc::now(),
            lifetime_minutes: 60,
            usable_once: true,
        };
        let shown = format!("{created:?}");
        assert!(!shown.contains("Xy7#kP2q"), "{shown}");
        assert_eq!(created.pass.expose_secret(), "Xy7#kP2q");
        let wire = TemporaryAccessPassMethod {
            id: "m1".to_owned(),
            temporary_access_pass: Some("Xy7#kP2q".to_owned()),
            ..TemporaryAccessPassMethod::default()
        };
        let shown = format!("{wire:?}");
        assert!(
            !shown.contains("Xy7#kP2q") && shown.contains("[hidden]"),
            "{shown}"
        );
    }

    #[test]
    fn new_errors_say_what_to_grant_and_their_kinds() {
        let e = write_refusal(
            ISSUE_TAP,
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied".to_owned(),
            "Insufficient privileges to complete the operation.".to_owned(),
        );
        let text = e.to_string();
        for part in [
            "UserAuthenticationMethod.ReadWrite.All",
            "UserAuthMethod-TAP.ReadWrite.All",
            "PHONELESS_WRITE_CLIENT_ID",
            "PHONELESS_CLIENT_ID",
            "admin consent",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
        assert_eq!(e.kind(), "permission");
        let e = write_refusal(
            ISSUE_TAP,
            StatusCode::BAD_REQUEST,
            "badRequest".to_owned(),
            "Invalid LifetimeInMinutes specified. The valid range between 60 and 480.".to_owned(),
        );
        assert_eq!(e.kind(), "rejected");
        assert_eq!(
            e.to_string(),
            "Graph would not issue a Temporary Access Pass (HTTP 400): Invalid LifetimeInMinutes \
             specified. The valid range between 60 and 480."
        );
        let e = write_refusal(
            ADD_MEMBER,
            StatusCode::NOT_IMPLEMENTED,
            String::new(),
            String::new(),
        );
        assert_eq!(e.kind(), "uncertain");
    }
}
