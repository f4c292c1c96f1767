import t from 'tap';
import { sandboxContract } from './helpers/sandbox-contract.ts';

// The hostile-job contract (test/helpers/sandbox-contract.ts) against the unshare sandbox.
sandboxContract(t, 'unshare');
