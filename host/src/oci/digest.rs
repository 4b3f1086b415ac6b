//! Content digests (`algorithm:hex`) as the OCI image spec defines them.

use sha2::{Digest as _, Sha256, Sha512};
use std::fmt;
use std::str::FromStr;

/// A digest algorithm this registry can verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, the canonical algorithm.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name used in digests and in blob paths.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Length of the hex-encoded hash.
    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    /// Every supported algorithm.
    pub const ALL: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Sha512];
}

/// A validated digest: a supported algorithm and a lowercase hex hash of the right length.
/// Kept as its text (`algorithm:hex`), which is how it is mostly used: in headers, paths and
/// documents. (Ordered by algorithm, then hash.)
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    text: String,
}

/// Why a string is not a usable digest.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    /// Not of the form `algorithm:encoded`, or the encoding is wrong for the algorithm.
    #[error("invalid digest")]
    Malformed,
    /// Well formed, but the algorithm is not one this registry supports.
    #[error("unsupported digest algorithm")]
    Unsupported,
}

impl Digest {
    /// The algorithm part.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The hex-encoded hash.
    pub fn hex(&self) -> &str {
        &self.text[self.algorithm.name().len() + 1..]
    }

    /// The digest as text, `algorithm:hex`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Digest of `bytes` with `algorithm`.
    pub fn of(algorithm: Algorithm, bytes: &[u8]) -> Digest {
        let mut hasher = Hasher::new(algorithm);
        hasher.update(bytes);
        hasher.finish()
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Digest {
            algorithm: algorithm_of(s)?,
            text: s.to_owned(),
        })
    }
}

/// The algorithm of a valid digest's text; why it is not one otherwise.
fn algorithm_of(s: &str) -> Result<Algorithm, DigestError> {
    let (alg, encoded) = s.split_once(':').ok_or(DigestError::Malformed)?;
    let algorithm = match alg {
        "sha256" => Algorithm::Sha256,
        "sha512" => Algorithm::Sha512,
        // Not one we support: malformed or merely unsupported, by the image spec's grammar
        // (algorithm-components of [a-z0-9]+ joined by [+._-], then [a-zA-Z0-9=_-]+).
        _ => {
            let alg_ok = !alg.is_empty()
                && alg.split(['+', '.', '_', '-']).all(|c| {
                    !c.is_empty()
                        && c.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                });
            let encoded_ok = !encoded.is_empty()
                && encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'));
            return Err(if alg_ok && encoded_ok {
                DigestError::Unsupported
            } else {
                DigestError::Malformed
            });
        }
    };
    // A supported algorithm: exactly its length of lowercase hex (which the grammar above
    // also allows), checked in one pass without early exit, which the compiler vectorizes.
    let is_lower_hex = encoded.bytes().fold(true, |ok, b| {
        ok & (b.is_ascii_digit() | (b'a'..=b'f').contains(&b))
    });
    if encoded.len() != algorithm.hex_len() || !is_lower_hex {
        return Err(DigestError::Malformed);
    }
    Ok(algorithm)
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.text)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let algorithm = algorithm_of(&text).map_err(serde::de::Error::custom)?;
        Ok(Digest { algorithm, text })
    }
}

/// An incremental hash for one algorithm.
#[derive(Clone)]
pub enum Hasher {
    /// SHA-256 state.
    Sha256(Sha256),
    /// SHA-512 state.
    Sha512(Sha512),
}

impl Hasher {
    /// A fresh hasher.
    pub fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    /// Feed bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    /// The algorithm of this hasher.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Hasher::Sha256(_) => Algorithm::Sha256,
            Hasher::Sha512(_) => Algorithm::Sha512,
        }
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> Digest {
        let algorithm = self.algorithm();
        let hex = match self {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
        };
        Digest {
            algorithm,
            text: format!("{}:{hex}", algorithm.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let empty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let d: Digest = empty.parse().unwrap();
        assert_eq!(d, Digest::of(Algorithm::Sha256, b""));
        assert_eq!(d.to_string(), empty);
        assert_eq!("sha256:abc".parse::<Digest>(), Err(DigestError::Malformed));
        assert_eq!(
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
                .parse::<Digest>(),
            Err(DigestError::Malformed)
        );
        assert_eq!("md5:abcd".parse::<Digest>(), Err(DigestError::Unsupported));
        assert_eq!(
            "sha3+x:A=_-".parse::<Digest>(),
            Err(DigestError::Unsupported)
        );
        for malformed in [
            "md5:",
            "MD5:abcd",
            "md5:ab/cd",
            ":abcd",
            "sha256:",
            "sha+:abcd",
        ] {
            assert_eq!(
                malformed.parse::<Digest>(),
                Err(DigestError::Malformed),
                "{malformed}"
            );
        }
        assert_eq!("nocolon".parse::<Digest>(), Err(DigestError::Malformed));
        assert_eq!(
            "sha256:../../x".parse::<Digest>(),
            Err(DigestError::Malformed)
        );
        let d512 = Digest::of(Algorithm::Sha512, b"x");
        assert_eq!(d512.to_string().parse::<Digest>().unwrap(), d512);
    }
}
