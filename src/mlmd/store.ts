import type { Database } from 'sql.js';
import { Artifacts, type ArtifactRecord, type ArtifactUpdate, type NewArtifact } from './artifacts.js';
import { Contexts, type NewContext } from './contexts.js';
import type { ExecutionState, PropertyType, TypeKind } from './enums.js';
import { Executions, type ExecutionRecord, type ExecutionUpdate, type NewExecution } from './executions.js';
import { Links, type NewEvent } from './links.js';
import { Statements } from './sqljs.js';
import { Transactions } from './transaction.js';
import { TypeRegistry } from './types.js';
import type { Value } from './value.js';

/**
 * Typed access to an MLMD schema-10 database held by sql.js. A thin facade:
 * each concern lives in its own module (types, contexts, executions,
 * artifacts, links, transactions). All times are integer milliseconds passed
 * in by the caller; ids are JS numbers.
 */
export class MlmdStore {
  private readonly q: Statements;
  private readonly tx: Transactions;
  private readonly types: TypeRegistry;
  private readonly contexts: Contexts;
  private readonly executions: Executions;
  private readonly artifacts: Artifacts;
  private readonly links: Links;

  constructor(private readonly database: Database) {
    this.q = new Statements(database);
    this.types = new TypeRegistry(this.q);
    this.tx = new Transactions(this.q, () => this.types.clearCache());
    this.contexts = new Contexts(this.q, this.types);
    this.executions = new Executions(this.q, this.types);
    this.artifacts = new Artifacts(this.q, this.types);
    this.links = new Links(this.q);
  }

  get db(): Database {
    return this.database;
  }

  /** True while a transaction() callback is running; saveMlmd refuses then. */
  get inTransaction(): boolean {
    return this.tx.depth > 0;
  }

  /** Run fn atomically (BEGIN/COMMIT, SAVEPOINT when nested). fn must be synchronous. */
  transaction<T>(fn: () => T): T {
    return this.tx.run(fn);
  }

  // Types
  getOrCreateType(kind: TypeKind, name: string, properties: Record<string, PropertyType> = {}): number {
    return this.types.getOrCreateType(kind, name, properties);
  }
  findType(kind: TypeKind, name: string): number | undefined {
    return this.types.findType(kind, name);
  }

  // Contexts
  findContext(typeId: number, name: string): number | undefined {
    return this.contexts.find(typeId, name);
  }
  /** Contexts named `name` of any type (not indexed; for start-up checks). */
  findContextsByName(name: string): { id: number; typeId: number }[] {
    return this.contexts.findByName(name);
  }
  createContext(c: NewContext): number {
    return this.contexts.create(c);
  }
  /** Returns false if the link was already there. */
  putParentContext(childId: number, parentId: number): boolean {
    return this.contexts.putParent(childId, parentId);
  }

  // Executions
  createExecution(e: NewExecution): number {
    return this.executions.create(e);
  }
  updateExecution(id: number, u: ExecutionUpdate): void {
    this.executions.update(id, u);
  }
  findExecutionsByProperty(name: string, value: string, isCustom = false): number[] {
    return this.executions.findByProperty(name, value, isCustom);
  }
  /** Executions whose last_known_state is `state` (not indexed; for start-up recovery). */
  findExecutionsByState(state: ExecutionState): number[] {
    return this.executions.findByState(state);
  }
  getExecution(id: number): ExecutionRecord | undefined {
    return this.executions.get(id);
  }

  // Artifacts
  createArtifact(a: NewArtifact): number {
    return this.artifacts.create(a);
  }
  findArtifactByName(typeId: number, name: string): number | undefined {
    return this.artifacts.findByName(typeId, name);
  }
  findArtifactsByUri(uri: string): number[] {
    return this.artifacts.findByUri(uri);
  }
  findArtifactsByProperty(name: string, value: Value, isCustom = false): number[] {
    return this.artifacts.findByProperty(name, value, isCustom);
  }
  updateArtifact(id: number, u: ArtifactUpdate): void {
    this.artifacts.update(id, u);
  }
  getArtifact(id: number): ArtifactRecord | undefined {
    return this.artifacts.get(id);
  }

  // Links
  putEvent(e: NewEvent): boolean {
    return this.links.putEvent(e);
  }
  hasAnyEvent(artifactId: number, executionId: number): boolean {
    return this.links.hasAnyEvent(artifactId, executionId);
  }
  putAttribution(contextId: number, artifactId: number): boolean {
    return this.links.putAttribution(contextId, artifactId);
  }
  putAssociation(contextId: number, executionId: number): boolean {
    return this.links.putAssociation(contextId, executionId);
  }

  /** Free the cached statements and close the database. */
  close(): void {
    if (this.inTransaction) throw new Error('MlmdStore.close: a transaction is still open');
    this.q.freeAll();
    this.database.close();
  }
}
