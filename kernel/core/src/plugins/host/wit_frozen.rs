//! Released WIT versions are frozen: their files must match the hashes taken at release.

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    /// (folder, SHA-256 of plugin.wit at release)
    const RELEASED: &[(&str, &str)] = &[
        ("erp-plugin@0.1.0", "d70f81cef3231076a0ac92a2b2de9758c9368815d54eaa21f5d51e755bd5c9b3"),
        ("erp-plugin@0.1.1", "a8d3bf086d3c4a803acd260d60ebff20579aa2367f2c8f52f19333973d1dfcf0"),
        ("erp-plugin@0.2.0", "51fc86ae3f3d7cb026fd6514cd4d16c22c66f68407d82acbee56c2fe7b7bdf4c"),
        ("erp-plugin@0.2.1", "a78e957d2dc63fdaee130ad060eaea89d4e2fa2e82d736ab8cd99ca26cec5749"),
        ("erp-plugin@0.2.2", "011236d817ad55a4591aad9e7fbd820e5b9e449595ce738c6848f2df3df43b83"),
        ("erp-plugin@0.2.3", "8f3e9f637a709d44ab224aa62bd4a1d8b36e53bed41b6729624980f7fcab2457"),
        ("erp-plugin@0.2.4", "18a55a62b47188693fc6bc05274df0367eb073cbab5f19b146e6cffdc4ed0c5a"),
    ];

    #[test]
    fn released_wit_files_are_unchanged() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit");
        for (folder, expected) in RELEASED {
            let text = std::fs::read(root.join(folder).join("plugin.wit")).expect("released WIT file");
            let actual = hex::encode(Sha256::digest(&text));
            assert_eq!(&actual, expected, "{folder} was changed after its release; add a new version instead");
        }
    }

    #[test]
    fn the_current_version_is_the_newest_release() {
        let newest = RELEASED.last().map(|(f, _)| f.trim_start_matches("erp-plugin@")).unwrap_or_default();
        let supported = super::super::supported_wit();
        assert_eq!(supported.last().map(ToString::to_string).as_deref(), Some(newest));
    }
}
