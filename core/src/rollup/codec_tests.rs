use super::*;

#[test]
fn round_trip_all_forms() {
    let mut w = Writer::new();
    w.u8(7)
        .u16(0x0102)
        .u32(0x0304_0506)
        .u64(0x0708_090a_0b0c_0d0e)
        .array(&[0xaa; 3])
        .bytes(b"xyz")
        .str("héllo")
        .option_tag(true)
        .option_tag(false)
        .count(2);
    let bytes = w.into_bytes();
    assert_eq!(&bytes[..3], &[7, 1, 2]);
    let mut r = Reader::new(&bytes);
    assert_eq!(r.u8("a").unwrap(), 7);
    assert_eq!(r.u16("b").unwrap(), 0x0102);
    assert_eq!(r.u32("c").unwrap(), 0x0304_0506);
    assert_eq!(r.u64("d").unwrap(), 0x0708_090a_0b0c_0d0e);
    assert_eq!(r.array::<3>("e").unwrap(), [0xaa; 3]);
    assert_eq!(r.bytes(3, "f").unwrap(), b"xyz");
    assert_eq!(r.str(16, "g").unwrap(), "héllo");
    assert!(r.option_tag("h").unwrap());
    assert!(!r.option_tag("i").unwrap());
    assert_eq!(r.count(2, "j").unwrap(), 2);
    r.finish().unwrap();
}

#[test]
fn errors_carry_offsets() {
    let mut r = Reader::new(&[0, 0, 0]);
    assert_eq!(
        r.u32("len"),
        Err(Truncated {
            offset: 0,
            what: "len",
            needed: 4,
            available: 3
        })
    );
    let mut r = Reader::new(&[9, 0, 0, 0, 5, 1, 2]);
    r.u8("x").unwrap();
    assert_eq!(
        r.clone().bytes(4, "blob"),
        Err(CodecError::LengthExceeded {
            offset: 1,
            what: "blob",
            got: 5,
            max: 4
        })
    );
    assert_eq!(
        r.clone().count(4, "list"),
        Err(CodecError::CountExceeded {
            offset: 1,
            what: "list",
            got: 5,
            max: 4
        })
    );
    let e = r.bytes(5, "blob").unwrap_err();
    assert_eq!(e.offset(), 5);
    assert!(matches!(e, CodecError::Truncated { needed: 5, .. }));

    let mut r = Reader::new(&[2]);
    assert_eq!(
        r.option_tag("opt"),
        Err(CodecError::NonCanonical {
            offset: 0,
            what: "opt",
            byte: 2
        })
    );
    let mut r = Reader::new(&[0, 0, 0, 3, b'a', 0xff, b'b']);
    assert_eq!(
        r.str(8, "text"),
        Err(CodecError::InvalidUtf8 {
            offset: 5,
            what: "text"
        })
    );
    let mut r = Reader::new(&[1, 2, 3]);
    r.u8("x").unwrap();
    assert_eq!(
        r.finish(),
        Err(TrailingBytes {
            offset: 1,
            count: 2
        })
    );
}

#[test]
fn narrow_errors_widen_to_the_same_codec_error_and_message() {
    let t = Truncated {
        offset: 5,
        what: "x",
        needed: 4,
        available: 1,
    };
    assert_eq!(
        CodecError::from(t),
        CodecError::Truncated {
            offset: 5,
            what: "x",
            needed: 4,
            available: 1
        }
    );
    assert_eq!(
        alloc::format!("{t}"),
        alloc::format!("{}", CodecError::from(t))
    );
    let b = TrailingBytes {
        offset: 9,
        count: 2,
    };
    assert_eq!(
        CodecError::from(b),
        CodecError::TrailingBytes {
            offset: 9,
            count: 2
        }
    );
    assert!(alloc::format!("{b}").contains("2 unexpected trailing bytes from byte 9"));
    // A length-prefixed read that runs out reports the same truncation, widened.
    let mut r = Reader::new(&[0, 0]);
    assert_eq!(
        r.count(8, "list"),
        Err(CodecError::Truncated {
            offset: 0,
            what: "list",
            needed: 4,
            available: 2
        })
    );
}

#[test]
fn huge_lengths_do_not_allocate_or_panic() {
    let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff]);
    assert!(matches!(
        r.bytes(usize::MAX, "blob"),
        Err(CodecError::Truncated { .. })
    ));
    let msg = alloc::format!(
        "{}",
        CodecError::LengthExceeded {
            offset: 3,
            what: "report",
            got: 9,
            max: 8
        }
    );
    assert!(msg.contains("report") && msg.contains("byte 3"));
    assert_eq!(
        codec_code!(
            "RECEIPT",
            CodecError::TrailingBytes {
                offset: 0,
                count: 1
            }
        ),
        "RECEIPT_TRAILING_BYTES"
    );
}
