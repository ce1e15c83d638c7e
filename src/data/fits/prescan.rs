//! The structural pre-scan of a FITS file: every HDU's header walked card by card with
//! checked arithmetic, before `fitsrs` parses anything, so that a truncated file, a
//! header without END, a string without its closing quote or a declared data size beyond
//! the file is refused with a one-line message instead of an allocation or a panic.

use super::{BLOCK, CARD};
use crate::data::checks::{one_line, shown};
use crate::{Error, Result};
use std::path::Path;

/// Refuse files with more HDUs than this (a corrupt file could declare thousands).
const MAX_HDUS: usize = 1000;

/// What the structural pre-scan found for one HDU.
#[derive(Clone, Debug)]
pub(super) struct HduLayout {
    /// "primary", "IMAGE", "BINTABLE", "TABLE" or another XTENSION value.
    pub(super) xtension: String,
    pub(super) bitpix: i64,
    pub(super) naxis: Vec<u64>,
    pub(super) data_start: usize,
    pub(super) data_len: usize,
}

/// Parse the integer value of a raw card (`KEYWORD = value / comment`).
fn raw_int(card: &[u8]) -> Option<i64> {
    if card.len() < 10 || &card[8..10] != b"= " {
        return None;
    }
    let v = std::str::from_utf8(&card[10..]).ok()?;
    let v = v.split('/').next()?.trim();
    v.parse::<i64>().ok().or_else(|| {
        // Some writers put integers as "512." or "5.12E2".
        let f: f64 = v.replace(['D', 'd'], "E").parse().ok()?;
        (f.fract() == 0.0 && f.abs() < 9.0e18).then_some(f as i64)
    })
}

fn raw_str(card: &[u8]) -> Option<String> {
    if card.len() < 10 || &card[8..10] != b"= " {
        return None;
    }
    let v = std::str::from_utf8(&card[10..]).ok()?.trim();
    let v = v.strip_prefix('\'')?;
    let end = v.find('\'')?;
    Some(one_line(v[..end].trim()))
}

/// Walk every HDU's header with checked arithmetic; refuse truncated or absurd files.
pub(super) fn prescan(
    path: &Path,
    bytes: &[u8],
    warnings: &mut Vec<String>,
) -> Result<Vec<HduLayout>> {
    let len = bytes.len();
    let mut pos = 0usize;
    let mut hdus = Vec::new();
    while pos < len {
        if hdus.len() >= MAX_HDUS {
            return Err(Error::format(
                path,
                format!("more than {MAX_HDUS} HDUs; refusing to read further"),
            ));
        }
        let idx = hdus.len();
        // An extension must start with XTENSION; trailing zero/blank padding ends the file.
        if idx > 0 {
            let rest = &bytes[pos..];
            if rest.iter().all(|&b| b == 0 || b == b' ') {
                break;
            }
            if !rest.starts_with(b"XTENSION") {
                warnings.push(format!(
                    "{} bytes after HDU {} are not a FITS extension; ignored",
                    len - pos,
                    idx - 1
                ));
                break;
            }
        }
        let header = read_cards(path, bytes, pos, idx)?;
        let hdu = checked_layout(path, header, idx, len, warnings)?;
        pos = (hdu.data_start + hdu.data_len).div_ceil(BLOCK) * BLOCK;
        hdus.push(hdu);
    }
    if hdus.is_empty() {
        return Err(Error::format(path, "no FITS header found"));
    }
    Ok(hdus)
}

/// The structural keywords of one header as written, before any check.
struct RawHeader {
    xtension: String,
    bitpix: Option<i64>,
    naxis_n: Option<i64>,
    /// (n, value) of every NAXISn card, in card order.
    naxes: Vec<(usize, i64)>,
    pcount: i64,
    gcount: i64,
    /// Byte just after the END card.
    end: usize,
}

/// The cards of HDU `idx`'s header from byte `pos` to its END card.
fn read_cards(path: &Path, bytes: &[u8], pos: usize, idx: usize) -> Result<RawHeader> {
    let mut h = RawHeader {
        xtension: if idx == 0 {
            "primary".to_string()
        } else {
            String::new()
        },
        bitpix: None,
        naxis_n: None,
        naxes: Vec::new(),
        pcount: 0,
        gcount: 1,
        end: 0,
    };
    let mut p = pos;
    while p + CARD <= bytes.len() {
        let card = &bytes[p..p + CARD];
        p += CARD;
        let key = std::str::from_utf8(&card[..8]).unwrap_or("").trim_end();
        refuse_unclosed_string(path, idx, key, card)?;
        match key {
            "END" => {
                h.end = p;
                return Ok(h);
            }
            "XTENSION" => h.xtension = raw_str(card).unwrap_or_default(),
            "BITPIX" => h.bitpix = raw_int(card),
            "NAXIS" => h.naxis_n = raw_int(card),
            "PCOUNT" => h.pcount = raw_int(card).unwrap_or(0),
            "GCOUNT" => h.gcount = raw_int(card).unwrap_or(1),
            k if k.starts_with("NAXIS") => {
                if let (Ok(i), Some(v)) = (k[5..].parse::<usize>(), raw_int(card)) {
                    h.naxes.push((i, v));
                }
            }
            _ => {}
        }
    }
    Err(Error::format(
        path,
        format!("truncated or corrupt FITS: header of HDU {idx} has no END card"),
    ))
}

/// A string value without its closing quote (fitsrs 0.4.1 panics on a lone quote; found
/// by the fits fuzz target) is refused here with a clear message. fitsrs parses a value
/// after "= " (bytes 9-10), in CONTINUE cards after byte 8, and in HIERARCH cards after
/// the first '='.
fn refuse_unclosed_string(path: &Path, idx: usize, key: &str, card: &[u8]) -> Result<()> {
    let value = if &card[8..10] == b"= " {
        Some(&card[10..])
    } else if key == "CONTINUE" {
        Some(&card[8..])
    } else if key == "HIERARCH" {
        card.iter().position(|&b| b == b'=').map(|i| &card[i + 1..])
    } else {
        None
    };
    if let Some(v) = value.map(|v| v.trim_ascii_start()) {
        if v.first() == Some(&b'\'') && !v[1..].contains(&b'\'') {
            return Err(Error::format(
                path,
                format!(
                    "HDU {idx}: card '{}' has a string value without its closing quote",
                    shown(key)
                ),
            ));
        }
    }
    Ok(())
}

/// HDU `idx`'s layout from its raw header: BITPIX, NAXIS and every NAXISn valid, and
/// the declared data (checked arithmetic) within the `len` bytes of the file.
fn checked_layout(
    path: &Path,
    h: RawHeader,
    idx: usize,
    len: usize,
    warnings: &mut Vec<String>,
) -> Result<HduLayout> {
    // Data start at the next block boundary after the header.
    let data_start = h.end.div_ceil(BLOCK) * BLOCK;
    let bitpix = h
        .bitpix
        .ok_or_else(|| Error::format(path, format!("HDU {idx} header has no valid BITPIX")))?;
    if ![8, 16, 32, 64, -32, -64].contains(&bitpix) {
        return Err(Error::format(
            path,
            format!("HDU {idx} has BITPIX = {bitpix}, not one of 8, 16, 32, 64, -32, -64"),
        ));
    }
    let naxis = checked_axes(path, &h, idx, warnings)?;
    let (pcount, gcount) = (h.pcount, h.gcount);
    if pcount < 0 || gcount < 0 {
        return Err(Error::format(
            path,
            format!("HDU {idx} declares PCOUNT = {pcount}, GCOUNT = {gcount}"),
        ));
    }
    // bits = |BITPIX| * GCOUNT * (PCOUNT + NAXIS1*...*NAXISn), all checked.
    let overflow = || {
        Error::format(
            path,
            format!(
                "HDU {idx} declares an impossible data size (NAXISn = {naxis:?}); corrupt header"
            ),
        )
    };
    let data_len: u64 = if naxis.is_empty() {
        0
    } else {
        let mut prod: u64 = 1;
        for &a in &naxis {
            prod = prod.checked_mul(a).ok_or_else(overflow)?;
        }
        let elems = prod
            .checked_add(pcount as u64)
            .and_then(|v| v.checked_mul(gcount as u64))
            .ok_or_else(overflow)?;
        elems
            .checked_mul(bitpix.unsigned_abs() / 8)
            .ok_or_else(overflow)?
    };
    let remaining = len.saturating_sub(data_start) as u64;
    if data_len > remaining {
        return Err(Error::format(
            path,
            format!(
                "truncated or corrupt FITS: HDU {idx} declares {data_len} bytes of data \
                 (BITPIX = {bitpix}, NAXISn = {naxis:?}) but only {remaining} bytes follow its header"
            ),
        ));
    }
    Ok(HduLayout {
        xtension: h.xtension,
        bitpix,
        naxis,
        data_start,
        data_len: data_len as usize,
    })
}

/// NAXIS1..NAXISn of HDU `idx` (the last card of each wins), each present and not
/// negative; NAXISi cards beyond NAXIS are a known quirk, ignored with a warning.
fn checked_axes(
    path: &Path,
    h: &RawHeader,
    idx: usize,
    warnings: &mut Vec<String>,
) -> Result<Vec<u64>> {
    let n = h
        .naxis_n
        .ok_or_else(|| Error::format(path, format!("HDU {idx} header has no valid NAXIS")))?;
    if !(0..=999).contains(&n) {
        return Err(Error::format(
            path,
            format!("HDU {idx} declares NAXIS = {n}"),
        ));
    }
    let n = n as usize;
    let mut naxis = Vec::with_capacity(n);
    for i in 1..=n {
        let v = h
            .naxes
            .iter()
            .rev()
            .find(|(j, _)| *j == i)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                Error::format(
                    path,
                    format!("HDU {idx} declares NAXIS = {n} but has no NAXIS{i}"),
                )
            })?;
        if v < 0 {
            return Err(Error::format(
                path,
                format!("HDU {idx} declares NAXIS{i} = {v}"),
            ));
        }
        naxis.push(v as u64);
    }
    for (i, v) in &h.naxes {
        if *i > n {
            warnings.push(format!(
                "HDU {idx} header has NAXIS{i} = {v} although NAXIS = {n}; ignored (known header quirk)"
            ));
        }
    }
    Ok(naxis)
}
