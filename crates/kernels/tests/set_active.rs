//! `set_active` is process-wide, so it is tested in its own test binary.

use convkit_kernels::{simd, Conv2d, Conv2dPlan, ConvOptions, Error, Level};

#[test]
fn forcing_the_active_level() {
    let detected = simd::detected();
    assert_eq!(simd::active(), detected);
    simd::set_active(Some(Level::Portable)).unwrap();
    assert_eq!(simd::active(), Level::Portable);
    let desc = Conv2d::builder()
        .channels(1, 1)
        .input_size(2, 2)
        .kernel_size(1, 1)
        .build()
        .unwrap();
    // Plans that name no level take the forced one.
    assert_eq!(
        Conv2dPlan::new(&desc, ConvOptions::default())
            .unwrap()
            .level(),
        Level::Portable
    );
    for level in Level::ALL {
        if !level.is_supported() {
            assert_eq!(
                simd::set_active(Some(level)),
                Err(Error::UnsupportedSimdLevel {
                    level: level.name()
                })
            );
            assert_eq!(
                simd::active(),
                Level::Portable,
                "a failed force changes nothing"
            );
        }
    }
    simd::set_active(None).unwrap();
    assert_eq!(simd::active(), detected);
}
