#!/usr/bin/env python3
"""Print NVIDIA's own parse of a Hopper attestation report as JSON, for differential tests of our
Rust SPDM parser (core/src/attestation/).

Usage:
  scripts/nvidia-ref-setup.sh     # once
  scripts/nvidia-ref-parse.py --report FILE [--json]

The parse is done by NVIDIA's classes from PyPI nv-local-gpu-verifier==2.7.3, unmodified:
verifier.attestation.AttestationReport(data, HopperSettings()) -> SpdmMeasurementRequestMessage,
SpdmMeasurementResponseMessage, MeasurementRecord, DmtfMeasurement, OpaqueData; driver/VBIOS version
strings the way cc_admin_utils.verify_attestation_report derives them (DRIVER_VERSION minus one trailing
NUL; utils.format_vbios_version), RIM ids with cc_admin_utils.get_*_rim_file_id and the same
NUL/space stripping + upper-casing cc_admin.attest() applies. Hex-text reports are decoded with
NVIDIA's utils.convert_string_to_blob; non-hex files are taken as binary.

Output fields (all hex lower-case, as NVIDIA's .hex()):
  request: spdm_version, request_response_code, param1, param2, nonce (the caller nonce), slot_id_param
  response: spdm_version, request_response_code, param1, param2, number_of_blocks,
            measurement_record_length, responder_nonce, opaque_length, signature (the 96 bytes NVIDIA's
            parser reads after the opaque data)
  measurements: {"<block index, 1-based>": "<hex value>"}; measurement_blocks: per block value type/size
  opaque: {NVIDIA field name: value}: raw fields as hex; MSRSCNT as a list of ints; SWITCH_PDI as a list of
          hex; FEATURE_FLAG ("SPT"/"MPT"/"PPCIE"), CHIP_INFO (str), OPAQUE_DATA_VERSION (int) as NVIDIA
          decodes them. Insertion order = order in the report; a repeated type keeps the LAST value
          (NVIDIA stores fields in a dict).
  driver_version, vbios_version, driver_rim_id, vbios_rim_id
  signed_data_length: len(report) - 96 = what NVIDIA hashes for the signature (AttestationReport.concatenate:
          the signature is assumed to be the last 96 bytes of the whole buffer)
  parsed_end / trailing_bytes: where NVIDIA's field-by-field parse ends vs the buffer length (computed
          here from NVIDIA's parsed lengths; NVIDIA itself never checks this).
On a parse failure: {"parsed": false, "error": "..."} and exit 1. Exit 2: venv or input file missing.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True  # keep scripts/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvidia_ref_common as C  # noqa: E402


def jsonable(v):
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    return v


def describe_exc(e):
    parts = []
    while e is not None and len(parts) < 6:
        parts.append(f"{type(e).__name__}: {' '.join(str(e).split())}")
        e = e.__cause__
    return " <- caused by ".join(parts)


def main():
    ap = argparse.ArgumentParser(description="NVIDIA nv-local-gpu-verifier 2.7.3 parse of a Hopper attestation report (JSON).")
    ap.add_argument("--report", required=True, help="attestation report (hex text; binary accepted)")
    ap.add_argument("--json", action="store_true", help="compact single-line JSON (default: pretty)")
    args = ap.parse_args()
    C.require_files([("--report", args.report)])
    C.ensure_venv()
    C.import_nvidia_verifier(verbose=False)

    from verifier.attestation import AttestationReport
    from verifier.config import HopperSettings
    from verifier.cc_admin_utils import CcAdminUtils
    from verifier.utils import format_vbios_version

    data, enc = C.read_report(args.report)
    settings = HopperSettings()
    out = {"report_encoding": enc, "report_length": len(data)}
    try:
        rep = AttestationReport(data, settings)
    except Exception as e:
        out.update({"parsed": False, "error": describe_exc(e)})
        C.dump(out, pretty=not args.json)
        sys.exit(1)

    req = rep.get_request_message()
    resp = rep.get_response_message()
    rec = resp.get_measurement_record()
    od = resp.get_opaque_data()

    out["parsed"] = True
    out["request"] = {
        "spdm_version": req.get_spdm_version().hex(),
        "request_response_code": req.get_request_response_code().hex(),
        "param1": req.get_param1().hex(),
        "param2": req.get_param2().hex(),
        "nonce": req.get_nonce().hex(),
        "slot_id_param": req.get_slot_id_param().hex(),
    }
    out["response"] = {
        "spdm_version": resp.get_spdm_version().hex(),
        "request_response_code": resp.get_request_response_code().hex(),
        "param1": resp.get_param1().hex(),
        "param2": resp.get_param2().hex(),
        "number_of_blocks": resp.get_number_of_blocks(),
        "measurement_record_length": resp.get_measurement_record_length(),
        "responder_nonce": resp.get_nonce().hex(),
        "opaque_length": resp.get_opaque_data_length(),
        "signature": resp.get_signature().hex(),
    }
    # Block index as NVIDIA keys it (MeasurementRecord.MeasurementBlocks: index byte -> DmtfMeasurement).
    out["measurements"] = {str(i): rec.MeasurementBlocks[i].get_measurement_value().hex()
                           for i in sorted(rec.MeasurementBlocks)}
    out["measurement_blocks"] = {str(i): {"value_type": rec.MeasurementBlocks[i].get_measurement_value_type(),
                                          "value_size": rec.MeasurementBlocks[i].get_measurement_value_size()}
                                 for i in sorted(rec.MeasurementBlocks)}
    try:  # NVIDIA's list view (what the verifier compares): list[index-1]
        out["measurement_list_ok"] = len(rep.get_measurements()) == len(rec.MeasurementBlocks)
    except Exception as e:
        out["measurement_list_ok"] = False
        out["measurement_list_error"] = describe_exc(e)
    out["opaque"] = {name: jsonable(v) for name, v in od.OpaqueDataField.items()}

    # Versions and RIM ids exactly as cc_admin / cc_admin_utils derive them.
    drv = od.get_data("OPAQUE_FIELD_ID_DRIVER_VERSION")
    if drv:
        d = drv.decode()
        out["driver_version"] = d[:-1] if d and d[-1] == "\0" else d
    else:
        out["driver_version"] = None
    vb = od.get_data("OPAQUE_FIELD_ID_VBIOS_VERSION")
    out["vbios_version"] = format_vbios_version(vb) if vb else None
    try:
        out["driver_rim_id"] = CcAdminUtils.get_driver_rim_file_id(out["driver_version"], settings, "GH100") \
            if out["driver_version"] is not None else None
    except Exception as e:
        out["driver_rim_id"] = None
        out["driver_rim_id_error"] = describe_exc(e)
    try:
        def field(n):
            return od.get_data(n).decode("ascii").strip().strip("\x00").upper()
        out["vbios_rim_id"] = CcAdminUtils.get_vbios_rim_file_id(
            field("OPAQUE_FIELD_ID_PROJECT"), field("OPAQUE_FIELD_ID_PROJECT_SKU"), field("OPAQUE_FIELD_ID_CHIP_SKU"),
            out["vbios_version"].replace(".", "").upper())
    except Exception as e:
        out["vbios_rim_id"] = None
        out["vbios_rim_id_error"] = describe_exc(e)

    sig_len = settings.signature_length
    parsed_end = (37 + 8 + resp.get_measurement_record_length() + 32 + 2
                  + resp.get_opaque_data_length() + len(resp.get_signature()))
    out["signature_length"] = sig_len
    out["signed_data_length"] = len(data) - sig_len
    out["parsed_end"] = parsed_end
    out["trailing_bytes"] = len(data) - parsed_end
    out["nvidia_package"] = f"{C.PKG}=={C.PKG_VERSION}"
    C.dump(out, pretty=not args.json)


if __name__ == "__main__":
    main()
