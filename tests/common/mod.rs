//! Helpers shared by the integration tests.

use ndarray::Array2;

/// Minimal reader for the ESO test frame (primary HDU, BITPIX 16, BSCALE/BZERO),
/// independent of the crate's loader.
pub fn read_fits_i16(path: &std::path::Path) -> Array2<f64> {
    let bytes = std::fs::read(path).expect("read fits");
    let mut kw = std::collections::HashMap::new();
    let mut off = 0;
    'hdr: loop {
        let block = &bytes[off..off + 2880];
        off += 2880;
        for card in block.chunks(80) {
            let s = std::str::from_utf8(card).expect("ascii");
            let key = s[..8].trim().to_string();
            if key == "END" {
                break 'hdr;
            }
            if &s[8..10] == "= " {
                let val = s[10..].split('/').next().unwrap_or("").trim().to_string();
                kw.insert(key, val);
            }
        }
    }
    let num = |k: &str, d: f64| kw.get(k).map_or(d, |v| v.parse::<f64>().expect("number"));
    assert_eq!(num("BITPIX", 0.0), 16.0);
    let (nx, ny) = (num("NAXIS1", 0.0) as usize, num("NAXIS2", 0.0) as usize);
    let (bscale, bzero) = (num("BSCALE", 1.0), num("BZERO", 0.0));
    let mut a = Array2::zeros((ny, nx));
    for (i, v) in a.iter_mut().enumerate() {
        let raw = i16::from_be_bytes([bytes[off + 2 * i], bytes[off + 2 * i + 1]]);
        *v = bzero + bscale * raw as f64;
    }
    a
}
