#!/usr/bin/env bash
# snarkjs proving time on exactly this project's spot-check circuit, next to ours, in one run.
#   zk/js/snarkjs-bench.sh [ROWS COLS R]     (default: 640 2048 1, Gemma 3 270M's FFN down, R = 1)
# `otr-zk export-r1cs` writes the circuit (.r1cs) and an honest witness (.wtns); snarkjs checks
# the witness, runs a throwaway setup (powers of tau with no contribution, then `groth16 setup`:
# setup cost is not what is compared) and `groth16 prove` (timed), then verifies. Our prover
# runs on the same shape with `otr-zk bench` right after. Both use every core of the machine.
set -euo pipefail
rows=${1:-640} cols=${2:-2048} r=${3:-1}
cd "$(dirname "$0")"
[[ -d node_modules/snarkjs ]] || npm ci --no-audit --no-fund >&2
repo=$(cd ../.. && pwd)
bin="$repo/target/release/otr-zk"
(cd "$repo" && cargo build --release -q -p otr-zk --bin otr-zk)
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
snarkjs() { node node_modules/snarkjs/cli.js "$@"; }
"$bin" export-r1cs --rows "$rows" --cols "$cols" --rows-per-unit "$r" --out "$w"
snarkjs wtns check "$w/circuit.r1cs" "$w/witness.wtns" | grep -q "WITNESS IS CORRECT"
n=$(node -e 'const f=require("fs").readFileSync(process.argv[1]);let o=12;for(;;){const t=f.readUInt32LE(o),s=Number(f.readBigUInt64LE(o+4));if(t===1){console.log(f.readUInt32LE(o+12+32+20+8));break}o+=12+s}' "$w/circuit.r1cs")
p=1; while (( (1 << p) < n + 5 )); do p=$((p + 1)); done
echo "constraints $n, powers of tau 2^$p" >&2
snarkjs powersoftau new bn128 "$p" "$w/pot0.ptau" >/dev/null
snarkjs powersoftau prepare phase2 "$w/pot0.ptau" "$w/pot.ptau" >/dev/null
snarkjs groth16 setup "$w/circuit.r1cs" "$w/pot.ptau" "$w/c.zkey" >/dev/null
t0=$(date +%s.%N)
snarkjs groth16 prove "$w/c.zkey" "$w/witness.wtns" "$w/proof.json" "$w/public.json"
t1=$(date +%s.%N)
snarkjs zkey export verificationkey "$w/c.zkey" "$w/vk.json" >/dev/null
snarkjs groth16 verify "$w/vk.json" "$w/public.json" "$w/proof.json" | grep -q "OK"
snarkjs_s=$(echo "$t1 - $t0" | bc)
version=$(node -p 'require("./node_modules/snarkjs/package.json").version')
echo "snarkjs $version groth16 prove: ${snarkjs_s} s ($n constraints, $rows x $cols, R = $r; proof verifies)"
"$bin" bench --rows "$rows" --cols "$cols" --rows-per-unit "$r" --proofs 1 2>&1 | grep "^| $r |"
