import { expect } from 'chai';
import {
  PATIENT_GENDERS,
  SERVICE_GENDERS,
  serviceFitsPatient,
  type PatientGender,
  type ServiceGender,
} from '../../lib/catalogue/service-rules.js';

describe('service rules', () => {
  const expected: Record<ServiceGender, Record<PatientGender, boolean>> = {
    all: { female: true, male: true, other: true },
    female: { female: true, male: false, other: false },
    male: { female: false, male: true, other: false },
  };

  for (const service of SERVICE_GENDERS) {
    for (const patient of PATIENT_GENDERS) {
      const fits = expected[service][patient];
      it(`a service for '${service}' ${fits ? 'fits' : 'does not fit'} a '${patient}' patient`, () => {
        expect(serviceFitsPatient(service, patient)).to.equal(fits);
      });
    }
  }

  it('lists exactly the genders of the contract', () => {
    expect([...SERVICE_GENDERS]).to.have.members(['all', 'female', 'male']);
    expect([...PATIENT_GENDERS]).to.have.members(['female', 'male', 'other']);
  });
});
