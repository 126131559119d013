/** @peculiar/x509 wired to node's WebCrypto (it needs reflect-metadata loaded first). */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as any); // node's webcrypto is the Crypto the library expects

export { x509 };
