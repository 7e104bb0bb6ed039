//! Serde for [`ObjectId`] fields as 40 hex digits (`#[serde(with = "crate::objects::hex")]`):
//! the text the plan's JSON has always held, read back with a clear error when it is not
//! an object id.

use gix::ObjectId;
use serde::{Deserialize, Deserializer, Serializer};

/// Writes `id` as its hex digits.
pub fn serialize<S: Serializer>(id: &ObjectId, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(id)
}

/// Reads an object id from its hex digits.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectId, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    ObjectId::from_hex(text.as_bytes())
        .map_err(|e| serde::de::Error::custom(format!("{text:?} is not an object id: {e}")))
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(with = "super")]
        id: gix::ObjectId,
    }

    const HEX: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn an_id_is_written_as_hex_and_read_back() {
        let id = gix::ObjectId::from_hex(HEX.as_bytes()).expect("hex");
        let json = serde_json::to_string(&Holder { id }).expect("json");
        assert_eq!(json, format!("{{\"id\":\"{HEX}\"}}"));
        let back: Holder = serde_json::from_str(&json).expect("read back");
        assert_eq!(back.id, id);
    }

    #[test]
    fn a_bad_id_is_an_error_naming_it() {
        let err = serde_json::from_str::<Holder>("{\"id\":\"main\"}").expect_err("not hex");
        assert!(
            err.to_string().contains("\"main\" is not an object id"),
            "{err}"
        );
    }
}
