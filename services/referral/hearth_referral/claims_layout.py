"""The claims file Hearth reads (`POST /claims/import`, `hearth claims import FILE`): a CSV with a
header row, one claim line per physical line, close to the CMS CCLF claim files. The header names
the columns (any order); these are the columns and the CCLF field each stands for:

| column            | CCLF field                          | content                                    |
|-------------------|-------------------------------------|--------------------------------------------|
| claim_id          | CUR_CLM_UNIQ_ID                     | the claim's id (required)                  |
| line_number       | CLM_LINE_NUM                        | 1, 2, ... (required)                       |
| member_id         | BENE_MBI_ID                         | the plan's member id (required)            |
| claim_type        | CLM_TYPE_CD (as a word)             | inpatient, outpatient, professional, dme, hospice, snf, home_health |
| service_from      | CLM_FROM_DT / CLM_LINE_FROM_DT      | YYYY-MM-DD (required)                      |
| service_to        | CLM_THRU_DT / CLM_LINE_THRU_DT      | YYYY-MM-DD (required, not before from)     |
| diagnosis_codes   | CLM_DGNS_CD (principal first)       | ICD-10-CM without dots, `;`-separated      |
| procedure_code    | CLM_LINE_HCPCS_CD                   | HCPCS / CPT                                |
| revenue_code      | CLM_LINE_REV_CTR_CD                 | 4 digits (0450 = emergency room)           |
| place_of_service  | CLM_POS_CD                          | 2 digits (23 = emergency room)             |
| admission_type    | CLM_ADMSN_TYPE_CD (as a word)       | emergency, urgent, elective                |
| ed_visit          | (derived by the plan)               | true / false                               |
| discharge_status  | BENE_PTNT_STUS_CD                   | 2 digits (20 = expired)                    |
| paid_amount       | CLM_PMT_AMT / CLM_LINE_CVRD_PD_AMT  | decimal                                    |

Only the required columns must be present; an empty cell is an absent value.
"""

CLAIM_CSV_COLUMNS = (
    "claim_id",
    "line_number",
    "member_id",
    "claim_type",
    "service_from",
    "service_to",
    "diagnosis_codes",
    "procedure_code",
    "revenue_code",
    "place_of_service",
    "admission_type",
    "ed_visit",
    "discharge_status",
    "paid_amount",
)
REQUIRED_CLAIM_COLUMNS = ("claim_id", "line_number", "member_id", "claim_type", "service_from", "service_to")
CLAIM_TYPES = ("inpatient", "outpatient", "professional", "dme", "hospice", "snf", "home_health")
DIAGNOSIS_SEPARATOR = ";"
