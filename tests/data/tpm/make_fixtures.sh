#!/usr/bin/env bash
# Regenerates the TPM fixtures in this directory (see README.md for what each file is). Run once, commit the output;
# the unit tests only read the files and never need swtpm or tpm2-tools.
#
#   tests/data/tpm/make_fixtures.sh <build dir with tests/attest_tests>
#
# ($ATTEST_TESTS, when set, names the test binary instead.)
#
# Needs swtpm (0.7), tpm2-tools (5.x), a C compiler and libtss2-dev. Uses a throwaway TPM state directory and TCP ports $SWTPM_PORT and
# $SWTPM_PORT+1 (default 23321/23322).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:?usage: make_fixtures.sh <build dir>}
PORT=${SWTPM_PORT:-23321}
WORK=$(mktemp -d)
SWTPM_PID=
cleanup() {
  if [[ -n "$SWTPM_PID" ]]; then kill "$SWTPM_PID" 2>/dev/null || true; wait "$SWTPM_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PCRS=sha256:0,1,2,3,4,5,7,8,12
# Qualifying data for the quotes: SHA-256("openpcc fixture nonce").
NONCE=$(printf 'openpcc fixture nonce' | sha256sum | cut -d' ' -f1)
echo "$NONCE" > "$HERE/quote_nonce.hex"

# 1. The event log of the fixed boot manifest (tests/unit/attest/tpm_fixtures.h), written by our EventLogWriter,
#    and the (pcr, digest) of each of its events.
#    Also a small log that starts at locality 3 (EventLogWriter(3)).
OPENPCC_WRITE_TPM_FIXTURES="$HERE" "${ATTEST_TESTS:-$BUILD/tests/attest_tests}" --gtest_filter=\
'BootManifestFixture.CommittedEventLogIsWhatTheWriterProduces:EventLogFixture.CommittedLocalityLogIsWhatTheWriterProduces' \
  > /dev/null

# 2. Independent replays by tpm2_eventlog: of our log, and of the real GCE log from tests/data/attestation.
tpm2_eventlog "$HERE/boot_eventlog.bin" > "$HERE/boot_eventlog.yaml" 2> /dev/null
awk '/^-- test_tcg_event_log.pem --/{f=1; next} /^-- /{f=0} f' "$HERE/../attestation/tcg_eventlog.txt" |
  sed -n '/-----BEGIN/,/-----END/p' | grep -v -- '-----' | base64 -d > "$WORK/gce_eventlog.bin"
tpm2_eventlog "$WORK/gce_eventlog.bin" > "$HERE/gce_eventlog.yaml" 2> /dev/null

# 3. A fresh software TPM (started and cleared by swtpm itself).
start_swtpm() {  # state dir, extra swtpm flags
  mkdir -p "$1"
  swtpm socket --tpm2 --server type=tcp,port="$PORT" --ctrl type=tcp,port=$((PORT + 1)) \
    --tpmstate dir="$1" --flags "$2" &
  SWTPM_PID=$!
  for _ in $(seq 50); do swtpm_ioctl --tcp "127.0.0.1:$((PORT + 1))" -g > /dev/null 2>&1 && break; sleep 0.1; done
}
stop_swtpm() { kill "$SWTPM_PID"; wait "$SWTPM_PID" 2>/dev/null || true; SWTPM_PID=; }
export TPM2TOOLS_TCTI="swtpm:port=$PORT"
start_swtpm "$WORK/state" not-need-init,startup-clear
cd "$WORK"
# Without a resource manager, sessions and transient objects outlive each tool; drop them between steps.
flush() { tpm2_flushcontext -t; tpm2_flushcontext -l; tpm2_flushcontext -s; }
cc -O1 -o tpm_fixture_helper "$HERE/tpm_fixture_helper.c" $(pkg-config --cflags --libs tss2-esys tss2-tctildr)

# 4. PolicyPCR from trial sessions: over the reset values, then (after replaying our log into the TPM) over the
#    booted values. tpm2-tools 5.4 refuses selections of more than 8 PCRs, so the 9-PCR attested set goes through
#    tpm_fixture_helper.c (ESAPI); the smaller selections through tpm2_createpolicy as a second, independent client.
ATTESTED="0 1 2 3 4 5 7 8 12"
tpm2_pcrread "$PCRS" -o "$HERE/pcr_values_reset.bin" > /dev/null
./tpm_fixture_helper policy-pcr $ATTESTED > "$HERE/policy_pcr_reset.bin"
while read -r pcr digest; do tpm2_pcrextend "$pcr:sha256=$digest"; done < "$HERE/boot_pcr_extends.txt"
tpm2_pcrread "$PCRS" -o "$HERE/pcr_values_boot.bin" > /dev/null
./tpm_fixture_helper policy-pcr $ATTESTED > "$HERE/policy_pcr_boot.bin"
tpm2_createpolicy --policy-pcr -l sha256:0,7 -L "$HERE/policy_pcr_0_7_boot.bin" > /dev/null
tpm2_createpolicy --policy-pcr -l sha256:0,1,2,3,4,5,7,8 -L "$HERE/policy_pcr_0_8_boot.bin" > /dev/null
flush

# 5. Attestation keys under the RSA EK, and a quote of the attested PCRs by each. TPM2B_PUBLIC files lose their
#    2-byte size prefix to become TPMT_PUBLIC.
tpm2_createek -c ek.ctx -G rsa -u ek.pub > /dev/null
flush
quote() {  # name, quote signing scheme, createak arguments...
  local name=$1 scheme=$2; shift 2
  tpm2_createak -C ek.ctx -c "ak_$name.ctx" "$@" -u "ak_$name.tpm2b" -n "$HERE/ak_$name.name" > /dev/null
  tail -c +3 "ak_$name.tpm2b" > "$HERE/ak_$name.tpmt_public"
  flush
  # The quoted values are pcr_values_boot.bin (nothing is extended after it); tpm2-tools' own verifier, which wants
  # them in its serialized format, must accept what we commit.
  tpm2_quote -c "ak_$name.ctx" -l "$PCRS" -q "$NONCE" -g sha256 --scheme "$scheme" \
    -m "$HERE/quote_$name.msg" -s "$HERE/quote_$name.sig" -o "quote_$name.pcrs" > /dev/null
  if [[ "$scheme" == rsapss ]]; then
    # tpm2_checkquote 5.4 rejects valid PSS quotes (it expects the maximal salt; TPMs use the digest size), so
    # OpenSSL checks this one: PSS, SHA-256, 32-byte salt, over the TPMS_ATTEST.
    tpm2_readpublic -c "ak_$name.ctx" -f pem -o "ak_$name.pem" > /dev/null
    tail -c +7 "$HERE/quote_$name.sig" > "quote_$name.sig.raw"  # TPMT_SIGNATURE: sigAlg, hash, size, bytes
    openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -verify "ak_$name.pem" \
      -signature "quote_$name.sig.raw" "$HERE/quote_$name.msg" > /dev/null
  else
    tpm2_checkquote -u "ak_$name.tpm2b" -m "$HERE/quote_$name.msg" -s "$HERE/quote_$name.sig" \
      -f "quote_$name.pcrs" -g sha256 -q "$NONCE" > /dev/null
  fi
  flush
}
quote rsa rsassa -G rsa -g sha256 -s rsassa
quote rsapss rsapss -G rsa -g sha256 -s rsapss
quote ecc ecdsa -G ecc -g sha256 -s ecdsa

# 6. A tpm2_create'd ECC P-256 key shaped like the request-encryption key (ECDH, PolicyPCR auth policy over the
#    booted values, no userWithAuth) and a plain ECC signing key; their Names as tpm2-tools reports them.
tpm2_createprimary -C o -G ecc256:aes128cfb -c primary.ctx > /dev/null
flush
tpm2_create -C primary.ctx -G ecc256:ecdh-sha256 -L "$HERE/policy_pcr_boot.bin" \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|decrypt|adminwithpolicy' -u rek.tpm2b -r rek.priv > /dev/null
flush
tpm2_load -C primary.ctx -u rek.tpm2b -r rek.priv -c rek.ctx -n "$HERE/rek_ecc.name" > /dev/null
tail -c +3 rek.tpm2b > "$HERE/rek_ecc.tpmt_public"
flush
tpm2_create -C primary.ctx -G ecc256:ecdsa-sha256 -u sign.tpm2b -r sign.priv > /dev/null
flush
tpm2_load -C primary.ctx -u sign.tpm2b -r sign.priv -c sign.ctx -n "$HERE/key_ecc.name" > /dev/null
tail -c +3 sign.tpm2b > "$HERE/key_ecc.tpmt_public"

# 7. A second TPM started from locality 3 (PCR 0 begins at 00…03), extended with the measured events of the
#    locality log: what replaying that log must give (tpm2_eventlog 5.4 ignores StartupLocality, see README.md).
stop_swtpm
start_swtpm "$WORK/state3" not-need-init
./tpm_fixture_helper startup-clear 3
while read -r pcr digest; do tpm2_pcrextend "$pcr:sha256=$digest"; done < "$HERE/locality_pcr_extends.txt"
tpm2_pcrread sha256:0,7 -o "$HERE/locality_pcr_values.bin" > /dev/null

echo "fixtures written to $HERE"
