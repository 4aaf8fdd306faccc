//! The domain's fixed words ([`crate::domain::vocab`]) as PostgreSQL text. Reading a
//! spelling the code does not know fails the query with an error naming the value, never a
//! default.

use crate::domain::availability::Basis;
use crate::domain::usage::MfaClass;
use crate::domain::{
    ClearedBy, DefaultMethod, Dimension, PhoneReason, PolicyKind, RunPart, RunStatus, State,
    UserType, Word,
};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgHasArrayType, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};

/// Text-backed `sqlx` mapping for a type with a stored spelling (`$spell`) and a checked
/// reading of it (`$read`).
macro_rules! as_text {
    ($ty:ty, $spell:expr, $read:expr) => {
        impl Type<Postgres> for $ty {
            fn type_info() -> PgTypeInfo {
                <&str as Type<Postgres>>::type_info()
            }
            fn compatible(ty: &PgTypeInfo) -> bool {
                <&str as Type<Postgres>>::compatible(ty)
            }
        }

        impl PgHasArrayType for $ty {
            fn array_type_info() -> PgTypeInfo {
                <&str as PgHasArrayType>::array_type_info()
            }
        }

        impl Encode<'_, Postgres> for $ty {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                let spell: fn(&$ty) -> &str = $spell;
                <&str as Encode<Postgres>>::encode(spell(self), buf)
            }
        }

        impl Decode<'_, Postgres> for $ty {
            fn decode(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
                let read: fn(&str) -> Result<$ty, BoxDynError> = $read;
                read(<&str as Decode<Postgres>>::decode(value)?)
            }
        }
    };
}

/// The mapping of a [`Word`] enum.
macro_rules! word_as_text {
    ($($ty:ty),+) => {
        $(as_text!($ty, |w| w.as_str(), |s| Ok(<$ty as Word>::parse(s)?));)+
    };
}

word_as_text!(
    State,
    UserType,
    RunStatus,
    RunPart,
    PolicyKind,
    Dimension,
    Basis,
    PhoneReason,
    ClearedBy,
    MfaClass
);

// Any stored default reads back: a value outside the known set is kept raw, as it was sent.
as_text!(DefaultMethod, |d| d.as_str(), |s| Ok(
    DefaultMethod::from_stored(s)
));
