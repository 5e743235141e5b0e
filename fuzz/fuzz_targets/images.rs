//! Images: any bytes as a PNG, JPEG, GIF, WebP, TIFF or BMP file (by the first byte), decoded
//! as `read_images` does, as they are and resized: pixels or an error, never a panic.
#![no_main]

use aqueduct::prelude::*;
use aqueduct_fuzz::{put, read};
use aqueduct_runtime::source::FilesSource;
use libfuzzer_sys::fuzz_target;

#[derive(Record, Debug, Clone)]
struct Gray {
    image: Tensor<u8, 8, 8>,
}

#[derive(Record, Debug, Clone)]
struct Rgb {
    image: Tensor<u8, 4, 4, 3>,
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    let extension = ["png", "jpg", "gif", "webp", "tiff", "bmp"][control as usize % 6];
    let url = put(&format!("f.{extension}"), body);
    let gray = FilesSource::images(
        url.clone(),
        "Gray",
        Gray::schema(),
        Some([8, 8, 1]),
        None,
        false,
    );
    let _ = read::<Gray>(&gray, usize::MAX);
    let rgb = FilesSource::images(
        url,
        "Rgb",
        Rgb::schema(),
        Some([4, 4, 3]),
        Some((4, 4)),
        false,
    );
    let _ = read::<Rgb>(&rgb, usize::MAX);
});
