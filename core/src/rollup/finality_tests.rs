use super::*;

const POSTED: i64 = 1_764_140_000;
const WINDOW: u64 = 600;

fn inputs(now: i64, dispute: DisputeState) -> FinalityInputs {
    FinalityInputs {
        batch_posted_at: Some(UnixTime(POSTED)),
        challenge_window_secs: WINDOW,
        dispute_state: dispute,
        now: UnixTime(now),
    }
}

#[test]
fn provisional_before_posting() {
    let mut i = inputs(POSTED, DisputeState::None);
    i.batch_posted_at = None;
    assert_eq!(evaluate_finality(&i), Ok(Finality::Provisional));
    i.dispute_state = DisputeState::Open;
    let e = evaluate_finality(&i).unwrap_err();
    assert_eq!(e, FinalityError::DisputeWithoutBatch);
    assert_eq!(e.code(), "FINALITY_DISPUTE_WITHOUT_BATCH");
}

#[test]
fn window_boundaries_to_the_second() {
    let ends_at = UnixTime(POSTED + WINDOW as i64);
    let in_window = Finality::InWindow {
        posted_at: UnixTime(POSTED),
        ends_at,
    };
    // Posted this very second: in the window.
    assert_eq!(
        evaluate_finality(&inputs(POSTED, DisputeState::None)),
        Ok(in_window)
    );
    // Last second of the window: still challengeable.
    assert_eq!(
        evaluate_finality(&inputs(POSTED + WINDOW as i64 - 1, DisputeState::None)),
        Ok(in_window)
    );
    // The exact end second: final.
    assert_eq!(
        evaluate_finality(&inputs(POSTED + WINDOW as i64, DisputeState::None)),
        Ok(Finality::Final { since: ends_at })
    );
    assert_eq!(
        evaluate_finality(&inputs(POSTED + 10 * WINDOW as i64, DisputeState::None)),
        Ok(Finality::Final { since: ends_at })
    );
}

#[test]
fn disputes() {
    let end = POSTED + WINDOW as i64;
    for now in [POSTED, end - 1, end, end + 1000] {
        assert_eq!(
            evaluate_finality(&inputs(now, DisputeState::Open)),
            Ok(Finality::Disputed)
        );
        assert_eq!(
            evaluate_finality(&inputs(
                now,
                DisputeState::ResolvedNodeLost { slashed_wei: 7 }
            )),
            Ok(Finality::Slashed { slashed_wei: 7 })
        );
    }
    // A dispute the node won does not shorten or cancel the window.
    assert!(matches!(
        evaluate_finality(&inputs(end - 1, DisputeState::ResolvedNodeWon)),
        Ok(Finality::InWindow { .. })
    ));
    assert!(matches!(
        evaluate_finality(&inputs(end, DisputeState::ResolvedNodeWon)),
        Ok(Finality::Final { .. })
    ));
}

#[test]
fn inconsistent_inputs() {
    let e = evaluate_finality(&inputs(POSTED - 1, DisputeState::None)).unwrap_err();
    assert_eq!(
        e,
        FinalityError::PostedInFuture {
            posted_at: UnixTime(POSTED),
            now: UnixTime(POSTED - 1)
        }
    );
    assert!(alloc::format!("{e}").contains("2025-11-26T"));
    let mut i = inputs(POSTED, DisputeState::None);
    i.challenge_window_secs = 0;
    assert_eq!(evaluate_finality(&i), Err(FinalityError::ZeroWindow));
    let mut i = inputs(i64::MAX, DisputeState::None);
    i.batch_posted_at = Some(UnixTime(i64::MAX - 5));
    assert_eq!(
        evaluate_finality(&i).unwrap_err().code(),
        "FINALITY_TIME_OVERFLOW"
    );
    i.challenge_window_secs = u64::MAX;
    assert_eq!(
        evaluate_finality(&i).unwrap_err().code(),
        "FINALITY_TIME_OVERFLOW"
    );
}

#[test]
fn chain_status_codec_and_json() {
    for dispute in [
        DisputeState::None,
        DisputeState::Open,
        DisputeState::ResolvedNodeWon,
        DisputeState::ResolvedNodeLost {
            slashed_wei: 1_500_000_000_000_000_000,
        },
    ] {
        let cs = ChainStatus {
            batch_posted_at: POSTED as u64,
            challenge_window_secs: WINDOW,
            dispute,
        };
        let mut w = Writer::new();
        cs.write(&mut w);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(ChainStatus::read(&mut r).unwrap(), cs);
        r.finish().unwrap();
        let json = serde_json::to_string(&cs).unwrap();
        assert_eq!(serde_json::from_str::<ChainStatus>(&json).unwrap(), cs);
        let i = cs.to_inputs(UnixTime(POSTED + 1)).unwrap();
        assert_eq!(i.batch_posted_at, Some(UnixTime(POSTED)));
    }
    let mut bad = [0u8; 17];
    bad[16] = 4;
    assert_eq!(
        ChainStatus::read(&mut Reader::new(&bad)),
        Err(CodecError::NonCanonical {
            offset: 16,
            what: "dispute state",
            byte: 4
        })
    );
    let json = serde_json::to_string(&Finality::Slashed { slashed_wei: 5 }).unwrap();
    assert_eq!(json, r#"{"state":"slashed","slashed_wei":"5"}"#);
    let json = serde_json::to_string(&Finality::Final { since: UnixTime(0) }).unwrap();
    assert_eq!(json, r#"{"state":"final","since":"1970-01-01T00:00:00Z"}"#);
    let huge = ChainStatus {
        batch_posted_at: u64::MAX,
        challenge_window_secs: 1,
        dispute: DisputeState::None,
    };
    assert_eq!(
        huge.to_inputs(UnixTime(0)).unwrap_err().code(),
        "FINALITY_TIME_OVERFLOW"
    );
}
