export const SERVICE_GENDERS = ['all', 'female', 'male'] as const;
export const PATIENT_GENDERS = ['female', 'male', 'other'] as const;

export type ServiceGender = (typeof SERVICE_GENDERS)[number];
export type PatientGender = (typeof PATIENT_GENDERS)[number];

/** 'all' fits everyone; a gender-specific service fits only that gender, so 'other' gets only 'all'. */
export function serviceFitsPatient(service: ServiceGender, patient: PatientGender): boolean {
  return service === 'all' || service === patient;
}
