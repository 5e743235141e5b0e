//! read_images and read_binary_files: the digits shipped in examples/data, and bad images.

use std::collections::BTreeMap;

use aqueduct::prelude::*;

#[derive(Record, Debug, Clone, PartialEq)]
struct Digit {
    image: Tensor<u8, 8, 8>,
}

#[derive(Record, Debug, Clone, PartialEq)]
struct FloatDigit {
    image: Tensor<f32, 8, 8, 1>,
}

#[derive(Record, Debug, Clone, PartialEq)]
struct Blob {
    bytes: Vec<u8>,
}

const DIGITS: &str = "examples/data/digits";

fn png(path: &std::path::Path, width: u32, height: u32, value: u8) {
    image::GrayImage::from_pixel(width, height, image::Luma([value]))
        .save(path)
        .unwrap();
}

#[test]
fn the_digits_decode_to_8x8_tensors_with_their_paths() {
    let rows = pipeline! { read_images::<Digit>(DIGITS, include_paths = true) }
        .with_preserve_order(true)
        .take_all()
        .unwrap();
    assert_eq!(rows.len(), 1797);
    let mut per_label: BTreeMap<String, usize> = BTreeMap::new();
    for row in &rows {
        let label = row.path.rsplit('/').nth(1).unwrap().to_owned();
        *per_label.entry(label).or_default() += 1;
    }
    assert_eq!(per_label.len(), 10);
    assert_eq!(per_label.values().sum::<usize>(), 1797);
    // The same pixels as decoding the file directly.
    let first = &rows[0];
    let file = first.path.trim_start_matches("file://");
    let direct = image::open(file).unwrap().to_luma8().into_raw();
    assert_eq!(first.image.values(), direct.as_slice());
    assert!(
        rows.iter()
            .any(|r| r.image.values().iter().any(|&v| v > 200))
    );
}

#[test]
fn tensors_of_another_element_type_and_resizing() {
    let dir = tempfile::tempdir().unwrap();
    png(&dir.path().join("a.png"), 8, 8, 10);
    png(&dir.path().join("b.png"), 16, 16, 200);
    let location = dir.path().to_str().unwrap().to_owned();

    let err = pipeline! { read_images::<Digit>(location.clone()) }
        .count()
        .unwrap_err()
        .to_string();
    assert!(err.contains("b.png"), "names the file: {err}");
    assert!(
        err.contains("the image is 16×16 but the record's `image` is 8×8×1; pass `size = (8, 8)`"),
        "{err}"
    );

    let rows = pipeline! { read_images::<FloatDigit>(location, size = (8, 8)) }
        .with_preserve_order(true)
        .take_all()
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].image.values().iter().all(|&v| v == 10.0));
    assert!(
        rows[1].image.values().iter().all(|&v| v == 200.0),
        "resized, not blended"
    );
}

#[test]
fn files_that_are_not_images_are_named() {
    let dir = tempfile::tempdir().unwrap();
    png(&dir.path().join("a.png"), 8, 8, 1);
    std::fs::write(dir.path().join("notes.png"), b"this is not a png").unwrap();
    let mut truncated = std::fs::read(dir.path().join("a.png")).unwrap();
    truncated.truncate(truncated.len() / 2);
    std::fs::write(dir.path().join("truncated.png"), truncated).unwrap();
    let location = dir.path().to_str().unwrap().to_owned();
    let error = pipeline! { read_images::<Digit>(location) }
        .with_threads(1)
        .count()
        .unwrap_err();
    let err = error.to_string();
    assert!(
        err.contains("notes.png") || err.contains("truncated.png"),
        "{err}"
    );
    assert!(err.contains("not a readable image"), "{err}");
    // The decoder's own error is kept, not flattened into the message.
    let mut cause = std::error::Error::source(&error);
    let mut decoder_error = None;
    while let Some(inner) = cause {
        decoder_error = decoder_error.or(inner.downcast_ref::<image::ImageError>());
        cause = inner.source();
    }
    assert!(decoder_error.is_some(), "{error:?}");
}

#[test]
fn binary_files_are_their_bytes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("one.bin"), [1u8, 2, 3]).unwrap();
    std::fs::write(dir.path().join("two.bin"), b"hello").unwrap();
    let location = dir.path().to_str().unwrap().to_owned();
    let rows = pipeline! { read_binary_files::<Blob>(location, include_paths = true) }
        .with_preserve_order(true)
        .take_all()
        .unwrap();
    let got: Vec<(String, Vec<u8>)> = rows
        .into_iter()
        .map(|r| (r.path.rsplit('/').next().unwrap().to_owned(), r.bytes))
        .collect();
    assert_eq!(
        got,
        vec![
            ("one.bin".to_owned(), vec![1, 2, 3]),
            ("two.bin".to_owned(), b"hello".to_vec())
        ]
    );
}

#[derive(Record, Debug, Clone, PartialEq)]
struct Photo {
    image: Tensor<u8, 4, 6, 3>,
}

#[test]
fn gif_webp_tiff_and_bmp_photos_decode_like_png() {
    let dir = tempfile::tempdir().unwrap();
    let photo = image::RgbImage::from_fn(6, 4, |x, y| image::Rgb([x as u8 * 40, y as u8 * 60, 7]));
    let names = [
        "a.png", "b.gif", "c.webp", "d.tif", "e.tiff", "f.bmp", "G.BMP",
    ];
    for name in names {
        photo.save(dir.path().join(name)).unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "not an image").unwrap();
    let rows = pipeline! {
        read_images::<Photo>(dir.path().to_str().unwrap(), include_paths = true)
    }
    .take_all()
    .unwrap();
    assert_eq!(rows.len(), names.len());
    for row in rows {
        // Lossless formats: the very pixels; GIF's palette holds these few colours exactly.
        assert_eq!(
            row.image.values(),
            photo.as_raw().as_slice(),
            "{}",
            row.path
        );
    }
}

/// `bytes` written as `image.jpg` in `dir` and read resized to 8×8: the file and the error.
fn resized_error(dir: &std::path::Path, bytes: &[u8]) -> (std::path::PathBuf, String) {
    let file = dir.join("image.jpg");
    std::fs::write(&file, bytes).unwrap();
    let location = file.to_str().unwrap().to_owned();
    let error = pipeline! { read_images::<Digit>(location, size = (8, 8)) }
        .count()
        .unwrap_err()
        .to_string();
    (file, error)
}

#[test]
fn a_jpeg_cut_short_is_refused_before_decoding() {
    // Found by fuzzing: 1 KB of JPEG whose header claims 2048×65527 pixels (under the pixel
    // limit) was decoded in seconds into 134 M pixels of filler, then resized.
    let dir = tempfile::tempdir().unwrap();
    let (file, error) = resized_error(dir.path(), include_bytes!("data/truncated_huge.jpg"));
    let location = file.to_str().unwrap().to_owned();
    assert!(
        error.contains(&location) && error.contains("2048×65527") && error.contains("cut short"),
        "{error}"
    );
    // A whole JPEG as compressible as they come (one gray value: a few bits per 8×8 block) is
    // well above the bound and is read.
    let uniform = image::GrayImage::from_pixel(1024, 1024, image::Luma([77]));
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut bytes)
        .encode_image(&uniform)
        .unwrap();
    std::fs::write(&file, &bytes).unwrap();
    let rows = pipeline! { read_images::<Digit>(location.clone(), size = (8, 8)) }
        .take_all()
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0].image.values().iter().all(|&v| v.abs_diff(77) <= 1),
        "{rows:?}"
    );
}

#[test]
fn an_image_claiming_too_many_pixels_is_refused_before_decoding() {
    // Found by fuzzing (`fuzz/`, target `images`): 503 bytes of JPEG whose header claims
    // 31240×8200 pixels took seconds and 256 MB to decode, before a resize to 8×8.
    let dir = tempfile::tempdir().unwrap();
    let (file, error) = resized_error(dir.path(), include_bytes!("data/huge_dimensions.jpg"));
    let location = file.to_str().unwrap().to_owned();
    assert!(
        error.contains(&location) && error.contains("31240×8200") && error.contains("pixels"),
        "{error}"
    );
    // Without `size`, the header alone says the shape is wrong.
    let error = pipeline! { read_images::<Digit>(location.clone()) }
        .count()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("31240×8200") || error.contains("pixels"),
        "{error}"
    );
}
