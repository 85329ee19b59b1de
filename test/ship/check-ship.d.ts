/**
 * Types for scripts/check-ship.mjs, a plain ESM script documented with JSDoc. The project's
 * tsconfig has no allowJs, so without this `npm run typecheck` reports TS7016 for the import in
 * ship.test.ts. A relative import cannot be declared by name, but a wildcard module pattern
 * does match it. Keep in step with the script's exports (the tests fail at run time if not).
 */
declare module '*/scripts/check-ship.mjs' {
  export interface CheckResult {
    title: string;
    checked: string[];
    problems: string[];
  }
  export interface Instruction {
    keyword: string;
    args: string;
    line: number;
  }
  export interface Stage {
    index: number;
    image: string;
    name: string | undefined;
    from: Instruction;
    instructions: Instruction[];
  }
  export interface ValueSample {
    name: string;
    override: unknown;
    expect?: RegExp;
  }

  export const ROOT: string;
  export const CHART_DIR: string;
  export const GATEWAY_SCHEMA: string;
  export const NOT_CHECKED: string[];
  export const RUNTIME_COPY_ALLOWLIST: string[];
  export const REQUIRED_PORTS: string[];
  export const REQUIRED_DOCKERIGNORE: string[];
  export const INVALID_VALUE_SAMPLES: ValueSample[];
  export const REQUIRED_TEMPLATE_SNIPPETS: Array<[string, string | RegExp]>;

  export function parseDockerfile(text: string): Instruction[];
  export function splitStages(instructions: Instruction[]): Stage[];
  export function parseCopy(args: string): { flags: Record<string, string>; sources: string[]; dest: string };
  export function isDockerignored(dockerignore: string, relPath: string): boolean;
  export function checkDockerfile(text: string, opts?: { contextDir?: string; dockerignore?: string }): CheckResult;

  export function parseYamlStrict(text: string, label: string): { value: any; problems: string[] };
  export function checkChartYaml(text: string, packageVersion: string, dirName?: string): CheckResult;
  export function mergeValues(base: unknown, override: unknown): any;
  export function valueInvariantProblems(values: unknown): string[];
  export function compileValuesSchema(schema: object): (values: unknown) => string[];
  export function undescribedSchemaProperties(schema: unknown): string[];
  export function checkValues(input: {
    schema: any;
    valuesText: string;
    validSamples?: ValueSample[];
    invalidSamples?: ValueSample[];
  }): CheckResult;
  export function checkChartGatewayConfig(gatewaySchema: unknown, valueSets: { name: string; values: unknown }[]): CheckResult;

  export function scanActions(text: string, file: string): { actions: { body: string; line: number }[]; problems: string[] };
  export function checkTemplates(templates: Record<string, string>, values: unknown): CheckResult;
  export function checkRuntimeImports(sources: Record<string, string>, pkg: { dependencies?: Record<string, string> }): CheckResult;

  export function runChecks(root?: string): CheckResult[];
  export function report(results: CheckResult[], out?: (line: string) => void): number;
}
