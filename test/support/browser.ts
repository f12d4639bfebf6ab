/** The browser the tests drive: the finder lives in audit/report/chromium.ts (the CLI prints PDFs with it). */
export {
  CHROMIUM_FLAGS,
  type FoundBrowser,
  findBrowser,
  launchBrowser,
  SYSTEM_CHROMIUM,
} from '../../audit/report/chromium.js';
