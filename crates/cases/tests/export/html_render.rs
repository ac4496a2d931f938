//! The HTML report opened in headless Chromium and screenshotted: the page must render to
//! something far from blank.

use std::path::{Path, PathBuf};
use std::process::Command;

use skein_cases::Format;

use crate::exported;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];

fn chromium() -> PathBuf {
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| {
        std::env::split_paths(&p)
            .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
            .collect::<Vec<_>>()
    });
    on_path
        .chain([PathBuf::from("/usr/bin/chromium")])
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no chromium found; run scripts/test-deps.sh"))
}

/// Pixels that are not (nearly) white, of an 8-bit RGB or RGBA PNG.
fn non_white_pixels(path: &Path) -> (usize, usize) {
    let file = std::fs::File::open(path).expect("open the screenshot");
    let decoder = png::Decoder::new(std::io::BufReader::new(file));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("a buffer size")];
    let info = reader.next_frame(&mut buf).expect("a PNG frame");
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected colour type {other:?}"),
    };
    let pixels = &buf[..info.buffer_size()];
    let total = pixels.len() / channels;
    let dark = pixels
        .chunks_exact(channels)
        .filter(|p| p[..3].iter().any(|&c| c < 235))
        .count();
    (dark, total)
}

#[test]
fn html_renders_in_headless_chromium() {
    let html = exported(Format::Html);
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "a script tag in the report");
    let dir = tempfile::tempdir().expect("a temp dir");
    let page = dir.path().join("cases.html");
    let shot = dir.path().join("cases.png");
    std::fs::write(&page, &html).expect("write the page");

    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--window-size=1280,2000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(
        shot.is_file(),
        "no screenshot (chromium exit {:?}):\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&shot).expect("read the screenshot");
    assert_eq!(bytes.get(..8), Some(&PNG_SIGNATURE[..]), "not a PNG");
    let (dark, total) = non_white_pixels(&shot);
    // A blank page has none; the report (cards, tables, badges, the graph) covers far more
    // than 3% of a 1280×2000 window.
    assert!(
        dark * 100 > total * 3,
        "only {dark} of {total} pixels are not white: the page looks blank"
    );
}
