// hypercore ships no type declarations; the benchmark uses only this part of its API.
declare module 'hypercore' {
  export default class Hypercore {
    constructor(storage: string)
    ready(): Promise<void>
    append(blocks: Buffer | Buffer[]): Promise<unknown>
    get(index: number): Promise<Buffer>
    createReadStream(): AsyncIterable<Buffer>
    close(): Promise<void>
  }
}
