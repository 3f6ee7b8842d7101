import { ArtifactState, TypeKind } from './enums.js';
import { ARTIFACT_PROPS, checkDeclared, findByProperty, readProperties, writeProperties, type Properties } from './properties.js';
import type { Statements } from './sqljs.js';
import { checkMs } from './time.js';
import type { TypeRegistry } from './types.js';
import type { Value } from './value.js';

export interface NewArtifact {
  typeId: number;
  uri: string;
  name?: string | null;
  state?: ArtifactState;
  properties?: Properties;
  customProperties?: Properties;
  nowMs: number;
}

export interface ArtifactUpdate {
  state?: ArtifactState;
  properties?: Properties;
  customProperties?: Properties;
  nowMs: number;
}

export interface ArtifactRecord {
  id: number;
  typeId: number;
  typeName: string | null;
  uri: string | null;
  name: string | null;
  state: ArtifactState | null;
  createTimeMs: number;
  lastUpdateTimeMs: number;
  properties: Properties;
  customProperties: Properties;
}

export class Artifacts {
  constructor(
    private readonly q: Statements,
    private readonly types: TypeRegistry,
  ) {}

  create(a: NewArtifact): number {
    const what = `createArtifact(${a.name ?? a.uri})`;
    const type = this.types.require(a.typeId, TypeKind.ARTIFACT, what);
    checkDeclared(type, a.properties, what);
    const now = checkMs(a.nowMs, what);
    const id = Number(
      this.q.one(
        'INSERT INTO Artifact (type_id, uri, state, name, create_time_since_epoch, last_update_time_since_epoch) ' +
          'VALUES (?, ?, ?, ?, ?, ?) RETURNING id',
        // The library writes '' (not NULL) for an artifact without uri.
        [a.typeId, a.uri ?? '', a.state ?? null, a.name ?? null, now, now],
      )![0],
    );
    writeProperties(this.q, ARTIFACT_PROPS, id, a.properties, false);
    writeProperties(this.q, ARTIFACT_PROPS, id, a.customProperties, true);
    return id;
  }

  update(id: number, u: ArtifactUpdate): void {
    const what = `updateArtifact(${id})`;
    const row = this.q.one('SELECT type_id FROM Artifact WHERE id = ?', [id]);
    if (!row) throw new Error(`${what}: no artifact with id ${id}`);
    checkDeclared(this.types.require(Number(row[0]), TypeKind.ARTIFACT, what), u.properties, what);
    const now = checkMs(u.nowMs, what);
    if (u.state !== undefined) {
      this.q.run('UPDATE Artifact SET state = ?, last_update_time_since_epoch = ? WHERE id = ?', [u.state, now, id]);
    } else {
      this.q.run('UPDATE Artifact SET last_update_time_since_epoch = ? WHERE id = ?', [now, id]);
    }
    writeProperties(this.q, ARTIFACT_PROPS, id, u.properties, false);
    writeProperties(this.q, ARTIFACT_PROPS, id, u.customProperties, true);
  }

  /** Served by the UNIQUE(type_id, name) index. */
  findByName(typeId: number, name: string): number | undefined {
    return this.q.id('SELECT id FROM Artifact WHERE type_id = ? AND name = ?', [typeId, name]);
  }

  /** Served by idx_artifact_uri. */
  findByUri(uri: string): number[] {
    return this.q.ids('SELECT id FROM Artifact WHERE uri = ? ORDER BY id', [uri]);
  }

  findByProperty(name: string, value: Value, isCustom = false): number[] {
    return findByProperty(this.q, ARTIFACT_PROPS, name, value, isCustom);
  }

  get(id: number): ArtifactRecord | undefined {
    const row = this.q.one(
      'SELECT a.type_id, t.name, a.uri, a.name, a.state, a.create_time_since_epoch, a.last_update_time_since_epoch ' +
        'FROM Artifact a LEFT JOIN Type t ON t.id = a.type_id WHERE a.id = ?',
      [id],
    );
    if (!row) return undefined;
    const [typeId, typeName, uri, name, state, created, updated] = row;
    return {
      id,
      typeId: Number(typeId),
      typeName: typeName === null ? null : String(typeName),
      uri: uri === null ? null : String(uri),
      name: name === null ? null : String(name),
      state: state === null ? null : (Number(state) as ArtifactState),
      createTimeMs: Number(created),
      lastUpdateTimeMs: Number(updated),
      ...readProperties(this.q, ARTIFACT_PROPS, id),
    };
  }
}
