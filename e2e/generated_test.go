// generated_test.go replays, against the real binary, every request of cloudflare-go v7's
// generated tests for its ai_gateway package (ai_gateway/*_test.go in the module cache):
// the same service call with the same parameters, in the same order within a service,
// only the placeholders replaced by ids of resources created first (a gateway, a log, a
// dataset, a route, its version...). The hosted API accepts every one of them; so must we.
// The billing services (AIGateway.Billing: credits, invoices, top-ups, the account spending
// limit) are Cloudflare's own invoicing of Unified Billing credits: nothing a self-hosted
// gateway can sell, so they are checked to answer a 404 naming the path instead.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/switchyard/switchyard/engine/dlp"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/ai_gateway"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/shared"
	"github.com/switchyard/switchyard/mock"
)

func TestGeneratedClientRequests(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL})
	api := g.API()
	ctx := context.Background()
	acct := cloudflare.F(account)
	const gw = "my-gateway" // the generated tests' gateway id, created by the first step

	// Ids the steps create and later steps use in place of the generated placeholders.
	var logID, providerSecretID, customProviderID, datasetID, evaluationID, routeID, versionID, deployedVersionID string
	var gatewayMessages []any // messages of the gateway update answer (stored, not acted on)
	// The generated tests' logpush_public_key placeholder is replaced by a real PEM key, as
	// the ids are: this gateway refuses a key it cannot encrypt for (see TestLogpushDirectory).
	_, _, logpushPub := logpushKeys(t)

	steps := []struct {
		name string // the generated test it replays
		call func() error
	}{
		// ---- aigateway_test.go ----
		{"TestAIGatewayNewWithOptionalParams", func() error {
			_, err := api.AIGateway.New(ctx, ai_gateway.AIGatewayNewParams{
				AccountID:               acct,
				ID:                      cloudflare.F(gw),
				CacheInvalidateOnUpdate: cloudflare.F(true),
				CacheTTL:                cloudflare.F(int64(0)),
				CollectLogs:             cloudflare.F(true),
				RateLimitingInterval:    cloudflare.F(int64(0)),
				RateLimitingLimit:       cloudflare.F(int64(0)),
				Authentication:          cloudflare.F(true),
				LogManagement:           cloudflare.F(int64(10000)),
				LogManagementStrategy:   cloudflare.F(ai_gateway.AIGatewayNewParamsLogManagementStrategyStopInserting),
				Logpush:                 cloudflare.F(true),
				LogpushPublicKey:        cloudflare.F(logpushPub),
				RateLimitingTechnique:   cloudflare.F(ai_gateway.AIGatewayNewParamsRateLimitingTechniqueFixed),
				RetryBackoff:            cloudflare.F(ai_gateway.AIGatewayNewParamsRetryBackoffConstant),
				RetryDelay:              cloudflare.F(int64(0)),
				RetryMaxAttempts:        cloudflare.F(int64(1)),
				StoreID:                 cloudflare.F("store_id"),
				WorkersAIBillingMode:    cloudflare.F(ai_gateway.AIGatewayNewParamsWorkersAIBillingModePostpaid),
				Zdr:                     cloudflare.F(true),
			})
			return err
		}},
		// Not a generated request: one logged request, for the log endpoints below.
		{"(a request through my-gateway, for a log id)", func() error {
			st, hdr, body := post(t, g.URL+"/v1/"+account+"/"+gw+"/openai/chat/completions",
				`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}`,
				map[string]string{"Authorization": "Bearer sk-test-key", "cf-aig-authorization": "Bearer " + token})
			if st != 200 {
				t.Fatalf("data-plane request: %d %s", st, body)
			}
			logID = hdr.Get("cf-aig-log-id")
			waitLogOn(t, g, gw, logID)
			return nil
		}},
		{"TestAIGatewayUpdateWithOptionalParams", func() error {
			var raw []byte
			_, err := api.AIGateway.Update(ctx, gw, ai_gateway.AIGatewayUpdateParams{
				AccountID:               acct,
				CacheInvalidateOnUpdate: cloudflare.F(true),
				CacheTTL:                cloudflare.F(int64(0)),
				CollectLogs:             cloudflare.F(true),
				RateLimitingInterval:    cloudflare.F(int64(0)),
				RateLimitingLimit:       cloudflare.F(int64(0)),
				Authentication:          cloudflare.F(true),
				DLP: cloudflare.F[ai_gateway.AIGatewayUpdateParamsDLPUnion](ai_gateway.AIGatewayUpdateParamsDLPObject{
					Action:   cloudflare.F(ai_gateway.AIGatewayUpdateParamsDLPObjectActionBlock),
					Enabled:  cloudflare.F(true),
					Profiles: cloudflare.F([]string{dlp.ProfileFinancial}),
				}),
				Guardrails: cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrails{
					Prompt: cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsPrompt{
						P1:  cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsPromptP1Flag),
						S1:  cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsPromptS1Flag),
						S10: cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsPromptS10Flag),
						S11: cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsPromptS11Flag),
						S12: cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsPromptS12Flag),
						S13: cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsPromptS13Flag),
						S2:  cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsPromptS2Flag),
						S3:  cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsPromptS3Flag),
						S4:  cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsPromptS4Flag),
						S5:  cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsPromptS5Flag),
						S6:  cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsPromptS6Flag),
						S7:  cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsPromptS7Flag),
						S8:  cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsPromptS8Flag),
						S9:  cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsPromptS9Flag),
					}),
					Response: cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsResponse{
						P1:  cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsResponseP1Flag),
						S1:  cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsResponseS1Flag),
						S10: cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsResponseS10Flag),
						S11: cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsResponseS11Flag),
						S12: cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsResponseS12Flag),
						S13: cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsResponseS13Flag),
						S2:  cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsResponseS2Flag),
						S3:  cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsResponseS3Flag),
						S4:  cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsResponseS4Flag),
						S5:  cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsResponseS5Flag),
						S6:  cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsResponseS6Flag),
						S7:  cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsResponseS7Flag),
						S8:  cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsResponseS8Flag),
						S9:  cloudflare.F(ai_gateway.AIGatewayUpdateParamsGuardrailsResponseS9Flag),
					}),
				}),
				LogClassification:     cloudflare.F(true),
				LogManagement:         cloudflare.F(int64(10000)),
				LogManagementStrategy: cloudflare.F(ai_gateway.AIGatewayUpdateParamsLogManagementStrategyStopInserting),
				Logpush:               cloudflare.F(true),
				LogpushPublicKey:      cloudflare.F(logpushPub),
				Otel: cloudflare.F([]ai_gateway.AIGatewayUpdateParamsOtel{{
					Headers:       cloudflare.F(map[string]string{"foo": "string"}),
					URL:           cloudflare.F("https://example.com"),
					Authorization: cloudflare.F("authorization"),
					ContentType:   cloudflare.F(ai_gateway.AIGatewayUpdateParamsOtelContentTypeJson),
				}}),
				RateLimitingTechnique: cloudflare.F(ai_gateway.AIGatewayUpdateParamsRateLimitingTechniqueFixed),
				RetryBackoff:          cloudflare.F(ai_gateway.AIGatewayUpdateParamsRetryBackoffConstant),
				RetryDelay:            cloudflare.F(int64(0)),
				RetryMaxAttempts:      cloudflare.F(int64(1)),
				SpendLimits: cloudflare.F(ai_gateway.AIGatewayUpdateParamsSpendLimits{
					Enabled: cloudflare.F(true),
					Rules: cloudflare.F([]ai_gateway.AIGatewayUpdateParamsSpendLimitsRule{{
						Limit:     cloudflare.F(1.000000),
						LimitType: cloudflare.F(ai_gateway.AIGatewayUpdateParamsSpendLimitsRulesLimitTypeCost),
						Window:    cloudflare.F(int64(1)),
						ID:        cloudflare.F("x"),
						Enabled:   cloudflare.F(true),
						Metadata: cloudflare.F(map[string]ai_gateway.AIGatewayUpdateParamsSpendLimitsRulesMetadataUnion{
							"foo": ai_gateway.AIGatewayUpdateParamsSpendLimitsRulesMetadataMode{
								Mode: cloudflare.F(ai_gateway.AIGatewayUpdateParamsSpendLimitsRulesMetadataModeModePartition),
							},
						}),
						Model: cloudflare.F(ai_gateway.AIGatewayUpdateParamsSpendLimitsRulesModel{
							Mode:   cloudflare.F(ai_gateway.AIGatewayUpdateParamsSpendLimitsRulesModelModeFilter),
							Values: cloudflare.F([]string{"string"}),
						}),
						Provider: cloudflare.F(ai_gateway.AIGatewayUpdateParamsSpendLimitsRulesProvider{
							Mode:   cloudflare.F(ai_gateway.AIGatewayUpdateParamsSpendLimitsRulesProviderModeFilter),
							Values: cloudflare.F([]string{"string"}),
						}),
						Technique: cloudflare.F(ai_gateway.AIGatewayUpdateParamsSpendLimitsRulesTechniqueFixed),
					}}),
				}),
				StoreID: cloudflare.F("store_id"),
				Stripe: cloudflare.F(ai_gateway.AIGatewayUpdateParamsStripe{
					Authorization: cloudflare.F("authorization"),
					UsageEvents: cloudflare.F([]ai_gateway.AIGatewayUpdateParamsStripeUsageEvent{{
						Payload: cloudflare.F("payload"),
					}}),
				}),
				WorkersAIBillingMode: cloudflare.F(ai_gateway.AIGatewayUpdateParamsWorkersAIBillingModePostpaid),
				Zdr:                  cloudflare.F(true),
			}, captureBody(&raw))
			if err == nil {
				gatewayMessages = envelopeMessages(t, raw)
			}
			return err
		}},
		{"TestAIGatewayListWithOptionalParams", func() error {
			_, err := api.AIGateway.List(ctx, ai_gateway.AIGatewayListParams{
				AccountID: acct, Page: cloudflare.F(int64(1)), PerPage: cloudflare.F(int64(1)), Search: cloudflare.F("search"),
			})
			return err
		}},
		{"TestAIGatewayGet", func() error {
			_, err := api.AIGateway.Get(ctx, gw, ai_gateway.AIGatewayGetParams{AccountID: acct})
			return err
		}},

		// ---- url_test.go ----
		{"TestURLGet", func() error {
			_, err := api.AIGateway.URLs.Get(ctx, gw, "workers-ai", ai_gateway.URLGetParams{AccountID: acct})
			return err
		}},

		// ---- customprovider_test.go ----
		{"TestCustomProviderNewWithOptionalParams", func() error {
			r, err := api.AIGateway.CustomProviders.New(ctx, ai_gateway.CustomProviderNewParams{
				AccountID:   acct,
				BaseURL:     cloudflare.F("https://example.com"),
				Name:        cloudflare.F("name"),
				Slug:        cloudflare.F("slug"),
				Beta:        cloudflare.F(true),
				CurlExample: cloudflare.F("curl_example"),
				Description: cloudflare.F("description"),
				Enable:      cloudflare.F(true),
				Headers:     cloudflare.F("headers"),
				JSExample:   cloudflare.F("js_example"),
				Link:        cloudflare.F("link"),
				Position:    cloudflare.F(int64(0)),
			})
			if err == nil {
				customProviderID = r.ID
			}
			return err
		}},
		{"TestCustomProviderListWithOptionalParams", func() error {
			_, err := api.AIGateway.CustomProviders.List(ctx, ai_gateway.CustomProviderListParams{
				AccountID: acct, Beta: cloudflare.F(true), Enable: cloudflare.F(true),
				Page: cloudflare.F(int64(1)), PerPage: cloudflare.F(int64(1)), Search: cloudflare.F("search"),
			})
			return err
		}},
		{"TestCustomProviderGet", func() error {
			_, err := api.AIGateway.CustomProviders.Get(ctx, customProviderID, ai_gateway.CustomProviderGetParams{AccountID: acct})
			return err
		}},
		{"TestCustomProviderDelete", func() error {
			_, err := api.AIGateway.CustomProviders.Delete(ctx, customProviderID, ai_gateway.CustomProviderDeleteParams{AccountID: acct})
			return err
		}},

		// ---- providerconfig_test.go ----
		// Not a generated request: a stored key, whose secret id replaces "secret_id".
		{"(a provider config, for a secret id)", func() error {
			r, err := api.AIGateway.ProviderConfigs.New(ctx, gw, ai_gateway.ProviderConfigNewParams{
				AccountID: acct, Alias: cloudflare.F("first"), ProviderSlug: cloudflare.F("openai"), Secret: cloudflare.F("sk-first-secret-123456"),
			})
			if err == nil {
				providerSecretID = r.SecretID
			}
			return err
		}},
		{"TestProviderConfigNewWithOptionalParams", func() error {
			_, err := api.AIGateway.ProviderConfigs.New(ctx, gw, ai_gateway.ProviderConfigNewParams{
				AccountID:       acct,
				Alias:           cloudflare.F("alias"),
				DefaultConfig:   cloudflare.F(true),
				ProviderSlug:    cloudflare.F("openai"), // for the placeholder "provider_slug"
				RateLimit:       cloudflare.F(0.000000),
				RateLimitPeriod: cloudflare.F(0.000000),
				Secret:          cloudflare.F("secret"),
				SecretID:        cloudflare.F(providerSecretID),
			})
			return err
		}},
		{"TestProviderConfigListWithOptionalParams", func() error {
			_, err := api.AIGateway.ProviderConfigs.List(ctx, gw, ai_gateway.ProviderConfigListParams{
				AccountID: acct, Page: cloudflare.F(int64(1)), PerPage: cloudflare.F(int64(1)),
			})
			return err
		}},

		// ---- log_test.go (Delete last: it deletes the log) ----
		{"TestLogListWithOptionalParams", func() error {
			_, err := api.AIGateway.Logs.List(ctx, gw, ai_gateway.LogListParams{
				AccountID: acct,
				Cached:    cloudflare.F(true),
				Direction: cloudflare.F(ai_gateway.LogListParamsDirectionAsc),
				EndDate:   cloudflare.F(time.Now()),
				Feedback:  cloudflare.F(ai_gateway.LogListParamsFeedback0),
				Filters: cloudflare.F([]ai_gateway.LogListParamsFilter{{
					Key:      cloudflare.F(ai_gateway.LogListParamsFiltersKeyID),
					Operator: cloudflare.F(ai_gateway.LogListParamsFiltersOperatorEq),
					Value:    cloudflare.F([]ai_gateway.LogListParamsFiltersValueUnion{shared.UnionString(logID)}),
				}}),
				MaxCost:             cloudflare.F(0.000000),
				MaxDuration:         cloudflare.F(0.000000),
				MaxTokensIn:         cloudflare.F(0.000000),
				MaxTokensOut:        cloudflare.F(0.000000),
				MaxTotalTokens:      cloudflare.F(0.000000),
				MetaInfo:            cloudflare.F(true),
				MinCost:             cloudflare.F(0.000000),
				MinDuration:         cloudflare.F(0.000000),
				MinTokensIn:         cloudflare.F(0.000000),
				MinTokensOut:        cloudflare.F(0.000000),
				MinTotalTokens:      cloudflare.F(0.000000),
				Model:               cloudflare.F("model"),
				ModelType:           cloudflare.F("model_type"),
				OrderBy:             cloudflare.F(ai_gateway.LogListParamsOrderByCreatedAt),
				OrderByDirection:    cloudflare.F(ai_gateway.LogListParamsOrderByDirectionAsc),
				Page:                cloudflare.F(int64(1)),
				PerPage:             cloudflare.F(int64(1)),
				Provider:            cloudflare.F("provider"),
				RequestContentType:  cloudflare.F("request_content_type"),
				ResponseContentType: cloudflare.F("response_content_type"),
				Search:              cloudflare.F("search"),
				StartDate:           cloudflare.F(time.Now()),
				Success:             cloudflare.F(true),
			})
			return err
		}},
		{"TestLogEditWithOptionalParams", func() error {
			_, err := api.AIGateway.Logs.Edit(ctx, gw, logID, ai_gateway.LogEditParams{
				AccountID: acct,
				Feedback:  cloudflare.F(-1.000000),
				Metadata:  cloudflare.F(map[string]ai_gateway.LogEditParamsMetadataUnion{"foo": shared.UnionString("string")}),
				Score:     cloudflare.F(0.000000),
			})
			return err
		}},
		{"TestLogGet", func() error {
			_, err := api.AIGateway.Logs.Get(ctx, gw, logID, ai_gateway.LogGetParams{AccountID: acct})
			return err
		}},
		{"TestLogRequest", func() error {
			_, err := api.AIGateway.Logs.Request(ctx, gw, logID, ai_gateway.LogRequestParams{AccountID: acct})
			return err
		}},
		{"TestLogResponse", func() error {
			_, err := api.AIGateway.Logs.Response(ctx, gw, logID, ai_gateway.LogResponseParams{AccountID: acct})
			return err
		}},

		// ---- dataset_test.go, evaluation_test.go, evaluationtype_test.go ----
		{"TestDatasetNew", func() error {
			r, err := api.AIGateway.Datasets.New(ctx, gw, ai_gateway.DatasetNewParams{
				AccountID: acct,
				Enable:    cloudflare.F(true),
				Filters: cloudflare.F([]ai_gateway.DatasetNewParamsFilter{{
					Key:      cloudflare.F(ai_gateway.DatasetNewParamsFiltersKeyCreatedAt),
					Operator: cloudflare.F(ai_gateway.DatasetNewParamsFiltersOperatorEq),
					Value:    cloudflare.F([]ai_gateway.DatasetNewParamsFiltersValueUnion{shared.UnionString(createdAtValue)}),
				}}),
				Name: cloudflare.F("name"),
			})
			if err == nil {
				datasetID = r.ID
			}
			return err
		}},
		{"TestDatasetUpdate", func() error {
			_, err := api.AIGateway.Datasets.Update(ctx, gw, datasetID, ai_gateway.DatasetUpdateParams{
				AccountID: acct,
				Enable:    cloudflare.F(true),
				Filters: cloudflare.F([]ai_gateway.DatasetUpdateParamsFilter{{
					Key:      cloudflare.F(ai_gateway.DatasetUpdateParamsFiltersKeyCreatedAt),
					Operator: cloudflare.F(ai_gateway.DatasetUpdateParamsFiltersOperatorEq),
					Value:    cloudflare.F([]ai_gateway.DatasetUpdateParamsFiltersValueUnion{shared.UnionString(createdAtValue)}),
				}}),
				Name: cloudflare.F("name"),
			})
			return err
		}},
		{"TestDatasetListWithOptionalParams", func() error {
			_, err := api.AIGateway.Datasets.List(ctx, gw, ai_gateway.DatasetListParams{
				AccountID: acct, Enable: cloudflare.F(true), Name: cloudflare.F("name"),
				Page: cloudflare.F(int64(1)), PerPage: cloudflare.F(int64(1)), Search: cloudflare.F("search"),
			})
			return err
		}},
		{"TestDatasetGet", func() error {
			_, err := api.AIGateway.Datasets.Get(ctx, gw, datasetID, ai_gateway.DatasetGetParams{AccountID: acct})
			return err
		}},
		{"TestEvaluationTypeListWithOptionalParams", func() error {
			_, err := api.AIGateway.EvaluationTypes.List(ctx, ai_gateway.EvaluationTypeListParams{
				AccountID:        acct,
				OrderBy:          cloudflare.F("order_by"),
				OrderByDirection: cloudflare.F(ai_gateway.EvaluationTypeListParamsOrderByDirectionAsc),
				Page:             cloudflare.F(int64(1)),
				PerPage:          cloudflare.F(int64(5)),
			})
			return err
		}},
		{"TestEvaluationNew", func() error {
			r, err := api.AIGateway.Evaluations.New(ctx, gw, ai_gateway.EvaluationNewParams{
				AccountID:         acct,
				DatasetIDs:        cloudflare.F([]string{datasetID}),
				EvaluationTypeIDs: cloudflare.F([]string{"cost"}),
				Name:              cloudflare.F("name"),
			})
			if err == nil {
				evaluationID = r.ID
			}
			return err
		}},
		{"TestEvaluationListWithOptionalParams", func() error {
			_, err := api.AIGateway.Evaluations.List(ctx, gw, ai_gateway.EvaluationListParams{
				AccountID: acct, Name: cloudflare.F("name"), Page: cloudflare.F(int64(1)), PerPage: cloudflare.F(int64(1)),
				Processed: cloudflare.F(true), Search: cloudflare.F("search"),
			})
			return err
		}},
		{"TestEvaluationGet", func() error {
			_, err := api.AIGateway.Evaluations.Get(ctx, gw, evaluationID, ai_gateway.EvaluationGetParams{AccountID: acct})
			return err
		}},
		{"TestEvaluationDelete", func() error {
			_, err := api.AIGateway.Evaluations.Delete(ctx, gw, evaluationID, ai_gateway.EvaluationDeleteParams{AccountID: acct})
			return err
		}},
		{"TestDatasetDelete", func() error {
			_, err := api.AIGateway.Datasets.Delete(ctx, gw, datasetID, ai_gateway.DatasetDeleteParams{AccountID: acct})
			return err
		}},

		// ---- dynamicrouting_test.go (Delete last) ----
		{"TestDynamicRoutingNew", func() error {
			r, err := api.AIGateway.DynamicRouting.New(ctx, gw, ai_gateway.DynamicRoutingNewParams{
				AccountID: acct,
				Elements: cloudflare.F([]ai_gateway.DynamicRoutingNewParamsElementUnion{ai_gateway.DynamicRoutingNewParamsElementsObject{
					ID: cloudflare.F("id"),
					Outputs: cloudflare.F(ai_gateway.DynamicRoutingNewParamsElementsObjectOutputs{
						Next: cloudflare.F(ai_gateway.DynamicRoutingNewParamsElementsObjectOutputsNext{ElementID: cloudflare.F("elementId")}),
					}),
					Type: cloudflare.F(ai_gateway.DynamicRoutingNewParamsElementsObjectTypeStart),
				},
					// Added: the element "elementId" names, so that the deployed graph is whole.
					ai_gateway.DynamicRoutingNewParamsElement{
						ID:      cloudflare.F("elementId"),
						Outputs: cloudflare.F[any](map[string]any{}),
						Type:    cloudflare.F(ai_gateway.DynamicRoutingNewParamsElementsTypeEnd),
					}}),
				Name: cloudflare.F("name"),
			})
			if err == nil {
				routeID, deployedVersionID = r.ID, r.Version.VersionID
			}
			return err
		}},
		{"TestDynamicRoutingUpdate", func() error {
			_, err := api.AIGateway.DynamicRouting.Update(ctx, gw, routeID, ai_gateway.DynamicRoutingUpdateParams{
				AccountID: acct, Name: cloudflare.F("Route Name"),
			})
			return err
		}},
		{"TestDynamicRoutingListWithOptionalParams", func() error {
			_, err := api.AIGateway.DynamicRouting.List(ctx, gw, ai_gateway.DynamicRoutingListParams{
				AccountID: acct, Page: cloudflare.F(int64(1)), PerPage: cloudflare.F(int64(20)),
			})
			return err
		}},
		// The generated elements, as sent: a start whose next element is missing. Kept as a
		// draft (is_valid false), its problems in the answer's messages.
		{"TestDynamicRoutingNewVersion", func() error {
			r, err := api.AIGateway.DynamicRouting.NewVersion(ctx, gw, routeID, ai_gateway.DynamicRoutingNewVersionParams{
				AccountID: acct,
				Elements: cloudflare.F([]ai_gateway.DynamicRoutingNewVersionParamsElementUnion{ai_gateway.DynamicRoutingNewVersionParamsElementsObject{
					ID: cloudflare.F("id"),
					Outputs: cloudflare.F(ai_gateway.DynamicRoutingNewVersionParamsElementsObjectOutputs{
						Next: cloudflare.F(ai_gateway.DynamicRoutingNewVersionParamsElementsObjectOutputsNext{ElementID: cloudflare.F("elementId")}),
					}),
					Type: cloudflare.F(ai_gateway.DynamicRoutingNewVersionParamsElementsObjectTypeStart),
				}}),
			})
			if err == nil {
				var v struct {
					VersionID string `json:"version_id"`
				}
				json.Unmarshal([]byte(r.JSON.ExtraFields["version"].Raw()), &v)
				versionID = v.VersionID
			}
			return err
		}},
		{"TestDynamicRoutingGet", func() error {
			_, err := api.AIGateway.DynamicRouting.Get(ctx, gw, routeID, ai_gateway.DynamicRoutingGetParams{AccountID: acct})
			return err
		}},
		{"TestDynamicRoutingGetVersion", func() error {
			_, err := api.AIGateway.DynamicRouting.GetVersion(ctx, gw, routeID, versionID, ai_gateway.DynamicRoutingGetVersionParams{AccountID: acct})
			return err
		}},
		{"TestDynamicRoutingListVersions", func() error {
			_, err := api.AIGateway.DynamicRouting.ListVersions(ctx, gw, routeID, ai_gateway.DynamicRoutingListVersionsParams{AccountID: acct})
			return err
		}},
		{"TestDynamicRoutingNewDeployment", func() error {
			_, err := api.AIGateway.DynamicRouting.NewDeployment(ctx, gw, routeID, ai_gateway.DynamicRoutingNewDeploymentParams{
				AccountID: acct, VersionID: cloudflare.F(deployedVersionID), // a whole graph: the new version above is a draft
			})
			return err
		}},
		{"TestDynamicRoutingListDeployments", func() error {
			_, err := api.AIGateway.DynamicRouting.ListDeployments(ctx, gw, routeID, ai_gateway.DynamicRoutingListDeploymentsParams{AccountID: acct})
			return err
		}},
		{"TestDynamicRoutingDelete", func() error {
			_, err := api.AIGateway.DynamicRouting.Delete(ctx, gw, routeID, ai_gateway.DynamicRoutingDeleteParams{AccountID: acct})
			return err
		}},

		// ---- log_test.go: Delete ----
		{"TestLogDeleteWithOptionalParams", func() error {
			_, err := api.AIGateway.Logs.Delete(ctx, gw, ai_gateway.LogDeleteParams{
				AccountID: acct,
				Filters: cloudflare.F([]ai_gateway.LogDeleteParamsFilter{{
					Key:      cloudflare.F(ai_gateway.LogDeleteParamsFiltersKeyID),
					Operator: cloudflare.F(ai_gateway.LogDeleteParamsFiltersOperatorEq),
					Value:    cloudflare.F([]ai_gateway.LogDeleteParamsFiltersValueUnion{shared.UnionString(logID)}),
				}}),
				Limit:            cloudflare.F(int64(1)),
				OrderBy:          cloudflare.F(ai_gateway.LogDeleteParamsOrderByCreatedAt),
				OrderByDirection: cloudflare.F(ai_gateway.LogDeleteParamsOrderByDirectionAsc),
			})
			return err
		}},

		// ---- aigateway_test.go: Delete, last of all ----
		{"TestAIGatewayDelete", func() error {
			_, err := api.AIGateway.Delete(ctx, gw, ai_gateway.AIGatewayDeleteParams{AccountID: acct})
			return err
		}},
	}
	for _, s := range steps {
		if err := s.call(); err != nil {
			t.Errorf("%s: refused: %v", s.name, err)
		}
	}

	// The update stored settings this gateway does not act on: its answer says so.
	for _, setting := range []string{"zdr", "stripe", "log_classification", "spend_limits"} {
		if !messagesName(gatewayMessages, setting) {
			t.Errorf("gateway update messages do not name %s: %v", setting, gatewayMessages)
		}
	}

	// billing*_test.go: not served here (see the top of the file).
	billing := []struct {
		name string
		call func() error
	}{
		{"TestBillingCreditBalance", func() error {
			_, err := api.AIGateway.Billing.CreditBalance(ctx, ai_gateway.BillingCreditBalanceParams{AccountID: acct})
			return err
		}},
		{"TestBillingInvoiceHistoryWithOptionalParams", func() error {
			_, err := api.AIGateway.Billing.InvoiceHistory(ctx, ai_gateway.BillingInvoiceHistoryParams{
				AccountID: acct, Type: cloudflare.F(ai_gateway.BillingInvoiceHistoryParamsTypeAll),
			})
			return err
		}},
		{"TestBillingInvoicePreview", func() error {
			_, err := api.AIGateway.Billing.InvoicePreview(ctx, ai_gateway.BillingInvoicePreviewParams{AccountID: acct})
			return err
		}},
		{"TestBillingUsageHistoryWithOptionalParams", func() error {
			_, err := api.AIGateway.Billing.UsageHistory(ctx, ai_gateway.BillingUsageHistoryParams{
				AccountID: acct, ValueGroupingWindow: cloudflare.F(ai_gateway.BillingUsageHistoryParamsValueGroupingWindowDay),
				EndTime: cloudflare.F(1700086400000.000000), StartTime: cloudflare.F(1700000000000.000000),
			})
			return err
		}},
		{"TestBillingSpendingLimitNew", func() error {
			_, err := api.AIGateway.Billing.SpendingLimit.New(ctx, ai_gateway.BillingSpendingLimitNewParams{
				AccountID: acct, Amount: cloudflare.F(int64(10000)),
				Duration: cloudflare.F(ai_gateway.BillingSpendingLimitNewParamsDurationMonthly),
				Strategy: cloudflare.F(ai_gateway.BillingSpendingLimitNewParamsStrategyFixed),
			})
			return err
		}},
		{"TestBillingSpendingLimitDelete", func() error {
			_, err := api.AIGateway.Billing.SpendingLimit.Delete(ctx, ai_gateway.BillingSpendingLimitDeleteParams{AccountID: acct})
			return err
		}},
		{"TestBillingSpendingLimitGet", func() error {
			_, err := api.AIGateway.Billing.SpendingLimit.Get(ctx, ai_gateway.BillingSpendingLimitGetParams{AccountID: acct})
			return err
		}},
		{"TestBillingTopupNew", func() error {
			_, err := api.AIGateway.Billing.Topup.New(ctx, ai_gateway.BillingTopupNewParams{AccountID: acct, Amount: cloudflare.F(int64(5000))})
			return err
		}},
		{"TestBillingTopupStatus", func() error {
			_, err := api.AIGateway.Billing.Topup.Status(ctx, ai_gateway.BillingTopupStatusParams{
				AccountID: acct, PaymentIntentID: cloudflare.F("in_1abc"),
			})
			return err
		}},
		{"TestBillingTopupConfigNew", func() error {
			_, err := api.AIGateway.Billing.Topup.Config.New(ctx, ai_gateway.BillingTopupConfigNewParams{
				AccountID: acct, Amount: cloudflare.F(int64(5000)), Threshold: cloudflare.F(int64(500)),
			})
			return err
		}},
		{"TestBillingTopupConfigDelete", func() error {
			_, err := api.AIGateway.Billing.Topup.Config.Delete(ctx, ai_gateway.BillingTopupConfigDeleteParams{AccountID: acct})
			return err
		}},
		{"TestBillingTopupConfigGet", func() error {
			_, err := api.AIGateway.Billing.Topup.Config.Get(ctx, ai_gateway.BillingTopupConfigGetParams{AccountID: acct})
			return err
		}},
	}
	for _, s := range billing {
		var apiErr *cloudflare.Error
		if err := s.call(); !asError(err, &apiErr) || apiErr.StatusCode != 404 || !strings.Contains(apiErr.Error(), "ai-gateway/billing") {
			t.Errorf("%s: want a 404 naming the billing path, got %v", s.name, err)
		}
	}
}

// createdAtValue is a time for the datasets' created_at filter (the generated tests send
// the placeholder "string" there).
var createdAtValue = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)

// waitLogOn polls the logs API of gateway gw until log id is there.
func waitLogOn(t *testing.T, g *Gateway, gw, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := g.API().AIGateway.Logs.Get(context.Background(), gw, id, ai_gateway.LogGetParams{AccountID: cloudflare.F(account)})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log %s never appeared: %v", id, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// captureBody keeps a copy of the answer's body (the client reads only its result).
func captureBody(dst *[]byte) option.RequestOption {
	return option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		resp, err := next(r)
		if err == nil {
			*dst, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(*dst))
		}
		return resp, err
	})
}

// envelopeMessages reads the hosted envelope's messages out of a raw answer.
func envelopeMessages(t *testing.T, raw []byte) []any {
	t.Helper()
	var env struct {
		Messages []any `json:"messages"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Errorf("decode envelope: %v: %s", err, raw)
	}
	return env.Messages
}

// messagesName reports whether one of the messages ({code, message}) names setting.
func messagesName(msgs []any, setting string) bool {
	for _, m := range msgs {
		o, _ := m.(map[string]any)
		if msg, _ := o["message"].(string); strings.HasPrefix(msg, setting+" ") || strings.HasPrefix(msg, setting+".") {
			if _, hasCode := o["code"].(float64); hasCode {
				return true
			}
		}
	}
	return false
}
