//! Verify's own reading of commit metadata, independent of the editor `apply` builds images
//! with (`objects::edit_commit`): a bug there must show here, so nothing of it is
//! reused. Both commits are parsed into their fields (every header but `tree`, `parent`
//! and signatures, with continuation lines; then the message) and compared field by field.

/// The fields of a commit its image must keep, in order.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Metadata<'a> {
    /// `(name, value lines)` of every kept header: `author`, `committer`, `encoding`,
    /// `mergetag` and any other extra header.
    headers: Vec<(&'a [u8], Vec<&'a [u8]>)>,
    /// Everything after the blank line that ends the headers (empty without one).
    message: &'a [u8],
}

/// Headers an image does not keep: its tree and parents are its own (checked apart), and a
/// signature cannot survive a rewrite.
fn dropped(name: &[u8]) -> bool {
    matches!(name, b"tree" | b"parent" | b"gpgsig" | b"gpgsig-sha256")
}

/// Parses a raw commit into [`Metadata`].
pub(super) fn parse(data: &[u8]) -> Metadata<'_> {
    let mut all: Vec<(&[u8], Vec<&[u8]>)> = Vec::new();
    let mut message: &[u8] = &[];
    let mut pos = 0;
    while pos < data.len() {
        let end = data[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |n| pos + n);
        let line = &data[pos..end];
        let next = (end + 1).min(data.len());
        if line.is_empty() && end < data.len() {
            message = &data[next..];
            break;
        }
        match (line.first(), all.last_mut()) {
            (Some(b' '), Some((_, values))) => values.push(&line[1..]),
            _ => {
                let split = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
                let value = line.get(split + 1..).unwrap_or(&[]);
                all.push((&line[..split], vec![value]));
            }
        }
        pos = end + 1;
    }
    let headers = all.into_iter().filter(|(n, _)| !dropped(n)).collect();
    Metadata { headers, message }
}

/// The fields in which `image` differs from `legacy` (`author`, `message`, …), in the
/// legacy commit's order; empty when the image kept every one.
pub(super) fn differences(legacy: &[u8], image: &[u8]) -> Vec<String> {
    let (old, new) = (parse(legacy), parse(image));
    let mut names: Vec<String> = Vec::new();
    let mut note = |name: &[u8]| {
        let name = String::from_utf8_lossy(name).into_owned();
        if !names.contains(&name) {
            names.push(name);
        }
    };
    for i in 0..old.headers.len().max(new.headers.len()) {
        match (old.headers.get(i), new.headers.get(i)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => {
                note(a.0);
                note(b.0);
            }
            (Some((n, _)), None) | (None, Some((n, _))) => note(n),
            (None, None) => {}
        }
    }
    if old.message != new.message {
        note(b"message");
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEGACY: &[u8] = b"tree 1111111111111111111111111111111111111111\n\
parent 2222222222222222222222222222222222222222\n\
author A <a@x> 946684800 +0900\n\
committer C <c@x> 946684801 -0130\n\
encoding ISO-8859-1\n\
gpgsig -----BEGIN PGP SIGNATURE-----\n \n abc\n -----END PGP SIGNATURE-----\n\
\n\
msg\n\nbody\n";

    /// The image as apply must write it: new tree and parent, signature gone.
    const IMAGE: &[u8] = b"tree 3333333333333333333333333333333333333333\n\
parent 4444444444444444444444444444444444444444\n\
author A <a@x> 946684800 +0900\n\
committer C <c@x> 946684801 -0130\n\
encoding ISO-8859-1\n\
\n\
msg\n\nbody\n";

    fn with(image: &[u8], from: &str, to: &str) -> Vec<u8> {
        let text = String::from_utf8_lossy(image).into_owned();
        assert!(text.contains(from), "{from:?} is in the image");
        text.replacen(from, to, 1).into_bytes()
    }

    #[test]
    fn a_faithful_image_has_no_difference() {
        assert_eq!(differences(LEGACY, IMAGE), Vec::<String>::new());
        // apply's own editor agrees with this independent reading
        let edited =
            crate::objects::edit_commit(LEGACY, gix::ObjectId::null(gix::hash::Kind::Sha1), &[]);
        assert_eq!(differences(LEGACY, &edited), Vec::<String>::new());
    }

    #[test]
    fn one_byte_of_the_message_is_caught() {
        let image = with(IMAGE, "body\n", "bodY\n");
        assert_eq!(differences(LEGACY, &image), ["message"]);
        let image = with(IMAGE, "body\n", "body");
        assert_eq!(differences(LEGACY, &image), ["message"]);
    }

    #[test]
    fn every_kept_header_is_compared() {
        let cases = [
            (
                "A <a@x> 946684800 +0900",
                "A <a@x> 946684800 +0000",
                "author",
            ),
            ("C <c@x>", "C <d@x>", "committer"),
            ("encoding ISO-8859-1\n", "", "encoding"),
        ];
        for (from, to, field) in cases {
            let image = with(IMAGE, from, to);
            assert_eq!(differences(LEGACY, &image), [field], "{from:?} -> {to:?}");
        }
        // an extra header the legacy commit lacks, and a reordering
        let image = with(IMAGE, "encoding", "mergetag x\nencoding");
        assert!(!differences(LEGACY, &image).is_empty());
        let image = with(
            IMAGE,
            "author A <a@x> 946684800 +0900\ncommitter C <c@x> 946684801 -0130\n",
            "committer C <c@x> 946684801 -0130\nauthor A <a@x> 946684800 +0900\n",
        );
        assert_eq!(differences(LEGACY, &image), ["author", "committer"]);
    }

    #[test]
    fn continuation_lines_belong_to_their_header() {
        let legacy = with(
            IMAGE,
            "encoding ISO-8859-1\n",
            "mergetag object 1\n type commit\n",
        );
        let kept = legacy.clone();
        assert_eq!(differences(&legacy, &kept), Vec::<String>::new());
        let cut = with(&legacy, " type commit\n", " type tag\n");
        assert_eq!(differences(&legacy, &cut), ["mergetag"]);
        // a signature and its continuation lines are not metadata
        assert_eq!(
            differences(LEGACY, &with(LEGACY, " abc\n", " xyz\n")),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_commit_without_message_matches_an_empty_one() {
        let bare = b"tree 1111111111111111111111111111111111111111\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n";
        let image = b"tree 3333333333333333333333333333333333333333\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\n";
        assert_eq!(differences(bare, image), Vec::<String>::new());
    }
}
