/* Fixture helper for make_fixtures.sh, for what tpm2-tools 5.4 cannot do (TCTI from $TPM2TOOLS_TCTI):
 *
 *   tpm_fixture_helper policy-pcr 0 1 2 3 4 5 7 8 12 > policy.bin
 *       writes the 32-byte digest a trial session holds after one TPM2_PolicyPCR over the current SHA-256 values
 *       of the PCRs named (tpm2-tools refuses selections of more than 8 PCRs; the attested set has 9);
 *   tpm_fixture_helper startup-clear <locality>
 *       sends TPM2_Startup(CLEAR) from that locality (at locality 3 the TPM starts PCR 0 at 00…03).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

static void check(TSS2_RC rc, const char* what) {
  if (rc != TSS2_RC_SUCCESS) {
    fprintf(stderr, "tpm_fixture_helper: %s failed: 0x%x\n", what, rc);
    exit(1);
  }
}

static int policy_pcr(ESYS_CONTEXT* esys, int argc, char** argv) {
  TPMT_SYM_DEF no_symmetric = {.algorithm = TPM2_ALG_NULL};
  ESYS_TR session = ESYS_TR_NONE;
  check(Esys_StartAuthSession(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL,
                              TPM2_SE_TRIAL, &no_symmetric, TPM2_ALG_SHA256, &session),
        "Esys_StartAuthSession");
  TPML_PCR_SELECTION selection;
  memset(&selection, 0, sizeof(selection));
  selection.count = 1;
  selection.pcrSelections[0].hash = TPM2_ALG_SHA256;
  selection.pcrSelections[0].sizeofSelect = 3;
  for (int i = 0; i < argc; ++i) {
    int pcr = atoi(argv[i]);
    if (pcr < 0 || pcr > 23) return 2;
    selection.pcrSelections[0].pcrSelect[pcr / 8] |= (BYTE)(1u << (pcr % 8));
  }
  TPM2B_DIGEST from_tpm = {.size = 0}; /* empty: the TPM hashes its current PCR values */
  check(Esys_PolicyPCR(esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &from_tpm, &selection),
        "Esys_PolicyPCR");
  TPM2B_DIGEST* digest = NULL;
  check(Esys_PolicyGetDigest(esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest),
        "Esys_PolicyGetDigest");
  fwrite(digest->buffer, 1, digest->size, stdout);
  Esys_Free(digest);
  Esys_FlushContext(esys, session);
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  TSS2_TCTI_CONTEXT* tcti = NULL;
  ESYS_CONTEXT* esys = NULL;
  check(Tss2_TctiLdr_Initialize(getenv("TPM2TOOLS_TCTI"), &tcti), "Tss2_TctiLdr_Initialize");
  int rc = 2;
  if (strcmp(argv[1], "startup-clear") == 0 && argc == 3) {
    check(Tss2_Tcti_SetLocality(tcti, (uint8_t)atoi(argv[2])), "Tss2_Tcti_SetLocality");
    check(Esys_Initialize(&esys, tcti, NULL), "Esys_Initialize");
    check(Esys_Startup(esys, TPM2_SU_CLEAR), "Esys_Startup");
    rc = 0;
  } else if (strcmp(argv[1], "policy-pcr") == 0) {
    check(Esys_Initialize(&esys, tcti, NULL), "Esys_Initialize");
    rc = policy_pcr(esys, argc - 2, argv + 2);
  }
  if (esys) Esys_Finalize(&esys);
  Tss2_TctiLdr_Finalize(&tcti);
  return rc;
}
