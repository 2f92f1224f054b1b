//! FNV-1a over string parts: a stable content hash (std's DefaultHasher may change between Rust versions),
//! for hunk ids and the stand-in image's recipe label.

pub fn fnv1a<'a>(parts: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        // A separator byte that never occurs in UTF-8, so ["ab", "c"] and ["a", "bc"] differ.
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}
