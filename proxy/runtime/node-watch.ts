// Whether --node-name names a Node the proxy knows. A name that matches no Node object is a
// silent mistake otherwise: no endpoint counts as local, no topology hint applies and
// NodePorts limited to "primary" find no address. It is logged loudly when it starts and
// when it ends (never on every sync) and exported as the gauge kpng_node_known.
import type { LocalNode } from '../model/index.ts';
import type { Logger } from './log.ts';
import { errorText } from '../errors.ts';

export interface NodeKnownGauge {
  nodeKnown(known: boolean): void;
}

export class NodeWatch {
  readonly #logger: Logger;
  readonly #gauge: NodeKnownGauge;
  #known: boolean | undefined;

  constructor(o: { logger: Logger; gauge: NodeKnownGauge }) {
    this.#logger = o.logger;
    this.#gauge = o.gauge;
  }

  /** The node of each new local state: logs and sets the gauge when whether it is known changes. */
  observe(node: LocalNode): void {
    if (node.known === this.#known) return;
    const first = this.#known === undefined;
    this.#known = node.known;
    this.#gauge.nodeKnown(node.known);
    if (!node.known) {
      this.#logger.warn(
        errorText(
          'KPNG_ERR_NODE_UNKNOWN',
          `--node-name ${JSON.stringify(node.name)} matches no Node object${first ? '' : ' any more'}: ` +
            'no endpoint counts as local (externalTrafficPolicy=Local answers nothing here), no topology hint applies and the node has no addresses; ' +
            'give the name of this node as the API knows it (kubectl get nodes; in a pod: fieldRef spec.nodeName)',
        ),
        { node: node.name },
      );
    } else if (!first) {
      this.#logger.info(`node ${JSON.stringify(node.name)} is known now`, { node: node.name });
    }
  }
}
