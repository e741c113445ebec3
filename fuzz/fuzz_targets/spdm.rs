//! SPDM GET_MEASUREMENTS reports and their NVIDIA opaque data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otr_core::attestation::opaque::OpaqueData;
use otr_core::attestation::SpdmReport;

fn touch(o: &OpaqueData) {
    let _ = o.describe();
    let _ = o.measurement_counters();
    let _ = o.switch_pdis();
    let _ = (o.driver_rim_id(), o.vbios_rim_id(), o.fwid(), o.board_id());
}

fuzz_target!(|data: &[u8]| {
    if let Ok(report) = SpdmReport::parse(data) {
        let _ = report.block(1);
        touch(&report.response.opaque);
    }
    if let Ok(opaque) = OpaqueData::parse(data, 0) {
        touch(&opaque);
    }
});
