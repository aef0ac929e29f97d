//! Encryption at rest: a blob is a 16-byte header and then the content, either as it is or
//! sealed with AES-256-GCM in 64 KiB chunks (the STREAM construction: each chunk's nonce is a
//! random prefix, the chunk's number and a last-chunk flag, so chunks cannot be reordered,
//! dropped or cut off unnoticed). Chunks let a 100 MB file pass through in constant memory.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};

/// Plain bytes per sealed chunk.
pub const CHUNK: usize = 64 * 1024;
/// The authentication tag each sealed chunk carries.
const TAG: usize = 16;
/// Header length.
pub const HEADER: usize = 16;
const MAGIC: &[u8; 8] = b"ERPBLOB1";
const PLAIN: u8 = 0;
const SEALED: u8 = 1;

/// The key files are sealed with (32 bytes, from configuration).
#[derive(Clone)]
pub struct FileKey(Aes256Gcm);

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKey(…)")
    }
}

impl FileKey {
    /// A key written as 64 hex digits or as base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<FileKey, String> {
        let bytes = crate::secrets::key_bytes(text)
            .ok_or("the file key must be 32 bytes, written as 64 hex digits or in base64")?;
        Aes256Gcm::new_from_slice(&bytes).map(FileKey).map_err(|e| e.to_string())
    }
}

/// A blob that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The blob is not one this kernel wrote, or was changed on disk.
    #[error("the stored file is damaged or was changed: {0}")]
    Damaged(&'static str),
    /// The blob is sealed and no key is configured.
    #[error("the stored file is encrypted and this server has no file key configured")]
    NoKey,
    /// Randomness was not available.
    #[error("no randomness for the file's nonce: {0}")]
    Random(String),
}

fn nonce(prefix: &[u8; 7], counter: u32, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..7].copy_from_slice(prefix);
    n[7..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = u8::from(last);
    n
}

/// Turns content into a blob, chunk by chunk.
pub struct Sealer {
    key: Option<Aes256Gcm>,
    prefix: [u8; 7],
    counter: u32,
    pending: Vec<u8>,
}

impl Sealer {
    /// A sealer (plain when `key` is `None`) and the blob's header.
    pub fn new(key: Option<&FileKey>) -> Result<(Sealer, [u8; HEADER]), SealError> {
        let mut prefix = [0u8; 7];
        if key.is_some() {
            getrandom::fill(&mut prefix).map_err(|e| SealError::Random(e.to_string()))?;
        }
        let mut header = [0u8; HEADER];
        header[..8].copy_from_slice(MAGIC);
        header[8] = if key.is_some() { SEALED } else { PLAIN };
        header[9..].copy_from_slice(&prefix);
        let sealer = Sealer { key: key.map(|k| k.0.clone()), prefix, counter: 0, pending: Vec::new() };
        Ok((sealer, header))
    }

    /// Adds content; what is ready to store is appended to `out`.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), SealError> {
        if self.key.is_none() {
            out.extend_from_slice(data);
            return Ok(());
        }
        self.pending.extend_from_slice(data);
        // The last chunk is sealed differently, so one full chunk always waits for `finish`.
        while self.pending.len() > CHUNK {
            let rest = self.pending.split_off(CHUNK);
            let chunk = std::mem::replace(&mut self.pending, rest);
            self.seal(chunk, false, out)?;
        }
        Ok(())
    }

    /// Ends the content.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), SealError> {
        if self.key.is_some() {
            let chunk = std::mem::take(&mut self.pending);
            self.seal(chunk, true, out)?;
        }
        Ok(())
    }

    fn seal(&mut self, mut chunk: Vec<u8>, last: bool, out: &mut Vec<u8>) -> Result<(), SealError> {
        let Some(key) = &self.key else { return Ok(()) };
        let n = nonce(&self.prefix, self.counter, last);
        key.encrypt_in_place(Nonce::from_slice(&n), b"", &mut chunk)
            .map_err(|_| SealError::Damaged("a chunk could not be sealed"))?;
        self.counter = self.counter.checked_add(1).ok_or(SealError::Damaged("the file is too large to seal"))?;
        out.extend_from_slice(&chunk);
        Ok(())
    }
}

/// Turns a blob back into its content, chunk by chunk.
pub struct Opener {
    key: Option<Aes256Gcm>,
    header: Vec<u8>,
    sealed: Option<bool>,
    prefix: [u8; 7],
    counter: u32,
    pending: Vec<u8>,
}

impl Opener {
    /// An opener; `key` is needed only for sealed blobs.
    pub fn new(key: Option<&FileKey>) -> Opener {
        Opener {
            key: key.map(|k| k.0.clone()),
            header: Vec::with_capacity(HEADER),
            sealed: None,
            prefix: [0; 7],
            counter: 0,
            pending: Vec::new(),
        }
    }

    /// Adds stored bytes; the content they complete is appended to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), SealError> {
        if self.sealed.is_none() {
            let take = (HEADER - self.header.len()).min(data.len());
            self.header.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.header.len() < HEADER {
                return Ok(());
            }
            if &self.header[..8] != MAGIC {
                return Err(SealError::Damaged("it does not start with the blob header"));
            }
            self.sealed = Some(match self.header[8] {
                PLAIN => false,
                SEALED if self.key.is_some() => true,
                SEALED => return Err(SealError::NoKey),
                _ => return Err(SealError::Damaged("unknown blob format")),
            });
            self.prefix.copy_from_slice(&self.header[9..16]);
        }
        if self.sealed == Some(false) {
            out.extend_from_slice(data);
            return Ok(());
        }
        self.pending.extend_from_slice(data);
        while self.pending.len() > CHUNK + TAG {
            let rest = self.pending.split_off(CHUNK + TAG);
            let chunk = std::mem::replace(&mut self.pending, rest);
            self.open(chunk, false, out)?;
        }
        Ok(())
    }

    /// Ends the blob: the last chunk must be there and whole.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), SealError> {
        match self.sealed {
            None => Err(SealError::Damaged("it is shorter than the blob header")),
            Some(false) => Ok(()),
            Some(true) => {
                let chunk = std::mem::take(&mut self.pending);
                self.open(chunk, true, out)
            }
        }
    }

    fn open(&mut self, mut chunk: Vec<u8>, last: bool, out: &mut Vec<u8>) -> Result<(), SealError> {
        let Some(key) = &self.key else { return Err(SealError::NoKey) };
        let n = nonce(&self.prefix, self.counter, last);
        key.decrypt_in_place(Nonce::from_slice(&n), b"", &mut chunk)
            .map_err(|_| SealError::Damaged("a chunk failed its authentication check"))?;
        self.counter = self.counter.checked_add(1).ok_or(SealError::Damaged("too many chunks"))?;
        out.extend_from_slice(&chunk);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FileKey {
        FileKey::parse(&"11".repeat(32)).expect("key")
    }

    fn seal(key: Option<&FileKey>, content: &[u8], piece: usize) -> Vec<u8> {
        let (mut sealer, header) = Sealer::new(key).expect("sealer");
        let mut out = header.to_vec();
        for part in content.chunks(piece.max(1)) {
            sealer.push(part, &mut out).expect("push");
        }
        sealer.finish(&mut out).expect("finish");
        out
    }

    fn open(key: Option<&FileKey>, blob: &[u8], piece: usize) -> Result<Vec<u8>, SealError> {
        let mut opener = Opener::new(key);
        let mut out = Vec::new();
        for part in blob.chunks(piece.max(1)) {
            opener.push(part, &mut out)?;
        }
        opener.finish(&mut out)?;
        Ok(out)
    }

    #[test]
    fn content_comes_back_whatever_the_pieces() {
        let k = key();
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17] {
            let content: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for piece in [1000, 7, CHUNK + 5] {
                let sealed = seal(Some(&k), &content, piece);
                assert_ne!(&sealed[HEADER..], &content[..], "sealed content is not the plain text");
                assert_eq!(open(Some(&k), &sealed, piece + 3).expect("opens"), content, "len {len}");
                let plain = seal(None, &content, piece);
                assert_eq!(open(Some(&k), &plain, piece).expect("plain opens with a key too"), content);
                assert_eq!(open(None, &plain, piece).expect("plain opens"), content);
            }
        }
    }

    #[test]
    fn tampering_cutting_and_a_missing_key_are_caught() {
        let k = key();
        let content = vec![7u8; 2 * CHUNK + 10];
        let sealed = seal(Some(&k), &content, 4096);
        let mut flipped = sealed.clone();
        flipped[HEADER + 5] ^= 1;
        assert!(matches!(open(Some(&k), &flipped, 4096), Err(SealError::Damaged(_))));
        // Cut after the first whole chunk: the rest is gone, which the last-chunk flag reveals.
        let cut = &sealed[..HEADER + CHUNK + TAG];
        assert!(matches!(open(Some(&k), cut, 4096), Err(SealError::Damaged(_))));
        assert!(matches!(open(None, &sealed, 4096), Err(SealError::NoKey)));
        let other = FileKey::parse(&"22".repeat(32)).expect("key");
        assert!(matches!(open(Some(&other), &sealed, 4096), Err(SealError::Damaged(_))));
        assert!(matches!(open(None, b"not a blob at all", 4), Err(SealError::Damaged(_))));
        assert!(FileKey::parse("short").is_err());
        assert!(FileKey::parse(&base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [3u8; 32])).is_ok());
    }
}
