// The Cloud port over Azure. Only bot types cross this boundary; the generated SDK models stay inside.
export { AzureCloud, createAzureCloud, defaultAzureCredential, CLOSE_AFTER_MS, DEFAULT_TIMEOUT_MS, type AzureCloudOptions, type AzureRetryOptions } from './cloud';
