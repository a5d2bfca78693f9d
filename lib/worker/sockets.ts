/** The listening sockets the master sends a worker at boot, with the label of each bind. */
export interface Arrived {
  handles: unknown[];
  labels: string[];
}

/** Collects the sockets as they arrive, while the app is still loading. */
export class SocketArrival {
  private readonly handles: unknown[] = [];
  private readonly labels: string[] = [];
  private arrived: (all: Arrived) => void = () => {};
  /** Resolves once every socket the master announced is here. */
  readonly all = new Promise<Arrived>((resolve) => (this.arrived = resolve));

  receive(index: number, total: number, label: string, handle: unknown): void {
    this.handles[index] = handle;
    this.labels[index] = label;
    if (this.handles.filter(Boolean).length === total) this.arrived({ handles: this.handles, labels: this.labels });
  }
}
