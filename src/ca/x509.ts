// @peculiar/x509, loaded after the Reflect metadata polyfill its dependency injection (tsyringe) needs,
// with Node's WebCrypto as its provider. Import X.509 helpers from here, never from the package directly.

import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
