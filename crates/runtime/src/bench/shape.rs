//! Parsing `--shape` specs: `n=1,c=64,h=56,w=56,k=64,r=3,s=3,stride=1,pad=1`.
//!
//! Keys: `n` (batch, default 1), `c`, `h`, `w`, `k`, `r`, `s` (required), `stride` (`s` or
//! `sh,sw`, default 1), `dilation` (`d` or `dh,dw`, default 1), `pad` (`p` on every side,
//! `ph,pw`, or `t,b,l,r`; default 0) and `groups` (default 1). Values of the two-/four-value
//! keys are separated by commas too: a token without `=` continues the previous key.

use convkit_kernels::{Conv2d, Padding};
use std::fmt;

/// Why a shape spec was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeError(pub String);

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad --shape: {}", self.0)
    }
}

impl std::error::Error for ShapeError {}

fn err<T>(msg: impl Into<String>) -> Result<T, ShapeError> {
    Err(ShapeError(msg.into()))
}

const KEYS: &[&str] = &[
    "n", "c", "h", "w", "k", "r", "s", "stride", "dilation", "pad", "groups",
];

/// Parses a convolution shape spec (see the module docs) into a validated descriptor.
///
/// ```
/// use convkit_runtime::bench::parse_shape;
/// let d = parse_shape("n=2,c=3,h=32,w=30,k=8,r=3,s=3,stride=2,pad=1,0,1,0")?;
/// assert_eq!((d.batch(), d.output_height(), d.output_width()), (2, 16, 15));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_shape(spec: &str) -> Result<Conv2d, ShapeError> {
    // key -> values, in order of appearance.
    let mut fields: Vec<(&str, Vec<usize>)> = Vec::new();
    for token in spec.split(',').map(str::trim) {
        if token.is_empty() {
            return err(format!("empty item in `{spec}`"));
        }
        let (key, value) = match token.split_once('=') {
            Some((k, v)) => {
                let k = k.trim();
                if !KEYS.contains(&k) {
                    return err(format!("unknown key `{k}` (keys: {})", KEYS.join(", ")));
                }
                if fields.iter().any(|(f, _)| *f == k) {
                    return err(format!("`{k}` given twice"));
                }
                fields.push((k, Vec::new()));
                (k, v.trim())
            }
            None => match fields.last() {
                Some((k, _)) => (*k, token),
                None => return err(format!("`{token}` is not key=value")),
            },
        };
        let v: usize = value
            .parse()
            .map_err(|_| ShapeError(format!("`{key}`: `{value}` is not a whole number")))?;
        if let Some((_, vs)) = fields.last_mut() {
            vs.push(v);
        }
    }
    let get = |key: &str| fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v);
    let one = |key: &str, default: Option<usize>| -> Result<usize, ShapeError> {
        match (get(key).map(|v| v.as_slice()), default) {
            (Some([v]), _) => Ok(*v),
            (Some(vs), _) => err(format!("`{key}` takes one value, got {}", vs.len())),
            (None, Some(d)) => Ok(d),
            (None, None) => err(format!("`{key}` is required (need c, h, w, k, r, s)")),
        }
    };
    let pair = |key: &str| -> Result<(usize, usize), ShapeError> {
        match get(key).map(|v| v.as_slice()) {
            None => Ok((1, 1)),
            Some([v]) => Ok((*v, *v)),
            Some([a, b]) => Ok((*a, *b)),
            Some(vs) => err(format!("`{key}` takes 1 or 2 values, got {}", vs.len())),
        }
    };
    let padding = match get("pad").map(|v| v.as_slice()) {
        None => Padding::ZERO,
        Some([p]) => Padding::uniform(*p),
        Some([ph, pw]) => Padding::symmetric(*ph, *pw),
        Some([t, b, l, r]) => Padding {
            top: *t,
            bottom: *b,
            left: *l,
            right: *r,
        },
        Some(vs) => return err(format!("`pad` takes 1, 2 or 4 values, got {}", vs.len())),
    };
    let (sh, sw) = pair("stride")?;
    let (dh, dw) = pair("dilation")?;
    Conv2d::builder()
        .batch(one("n", Some(1))?)
        .channels(one("c", None)?, one("k", None)?)
        .input_size(one("h", None)?, one("w", None)?)
        .kernel_size(one("r", None)?, one("s", None)?)
        .stride(sh, sw)
        .dilation(dh, dw)
        .padding(padding)
        .groups(one("groups", Some(1))?)
        .build()
        .map_err(|e| ShapeError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_issue_example() {
        let d = parse_shape("n=1,c=64,h=56,w=56,k=64,r=3,s=3,stride=1,pad=1").unwrap();
        let want = Conv2d::builder()
            .channels(64, 64)
            .input_size(56, 56)
            .kernel_size(3, 3)
            .padding(Padding::uniform(1))
            .build()
            .unwrap();
        assert_eq!(d, want);
    }

    #[test]
    fn parses_every_optional_form() {
        let d = parse_shape(
            "c=8, h=20,w=17,k=4,r=3,s=2,stride=2,1,dilation=2,pad=1,2,3,0,groups=4,n=3",
        )
        .unwrap();
        assert_eq!(d.batch(), 3);
        assert_eq!((d.stride_height(), d.stride_width()), (2, 1));
        assert_eq!((d.dilation_height(), d.dilation_width()), (2, 2));
        assert_eq!(
            d.padding(),
            Padding {
                top: 1,
                bottom: 2,
                left: 3,
                right: 0
            }
        );
        assert_eq!(d.groups(), 4);
        let d = parse_shape("c=1,h=5,w=5,k=1,r=3,s=3,pad=1,2").unwrap();
        assert_eq!(d.padding(), Padding::symmetric(1, 2));
        assert_eq!(d.batch(), 1);
    }

    #[test]
    fn rejects_bad_specs() {
        let bad = [
            "",
            "c=1,h=5,w=5,k=1,r=3",                  // s missing
            "c=1,h=5,w=5,k=1,r=3,s=3,x=2",          // unknown key
            "c=1,h=5,w=5,k=1,r=3,s=3,c=2",          // duplicate
            "c=one,h=5,w=5,k=1,r=3,s=3",            // not a number
            "c=-1,h=5,w=5,k=1,r=3,s=3",             // negative
            "3,c=1,h=5,w=5,k=1,r=3,s=3",            // value without key
            "c=1,h=5,w=5,k=1,r=3,s=3,pad=1,1,1",    // 3 paddings
            "c=1,h=5,w=5,k=1,r=3,s=3,stride=1,1,1", // 3 strides
            "c=1,h=5,1,w=5,k=1,r=3,s=3",            // two heights
            "c=1,h=5,w=5,k=1,r=3,s=3,,",            // empty item
            "c=0,h=5,w=5,k=1,r=3,s=3",              // zero channels (descriptor)
            "c=1,h=2,w=5,k=1,r=3,s=3",              // kernel larger than input
            "c=3,h=5,w=5,k=3,r=3,s=3,groups=2",     // groups do not divide
            "c=1,h=5,w=5,k=1,r=3,s=3,stride=0",     // zero stride
        ];
        for spec in bad {
            assert!(parse_shape(spec).is_err(), "accepted `{spec}`");
        }
        let e = parse_shape("c=1,h=5,w=5,k=1,r=3,s=3,x=2").unwrap_err();
        assert!(e.to_string().contains("unknown key `x`"), "{e}");
    }
}
