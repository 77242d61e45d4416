import type { ServiceGender } from './service-rules.js';

/** A realistic starting catalogue for a small Indian clinic (prices in paise). */
export const demoCatalogue: {
  name: string;
  description: string;
  pricePaise: number;
  gender: ServiceGender;
}[] = [
  {
    name: 'General Physician Consultation',
    description: 'A 15-minute consultation with a general physician.',
    pricePaise: 50000,
    gender: 'all',
  },
  {
    name: 'Specialist Consultation (Cardiology)',
    description: 'Consultation with a consultant cardiologist.',
    pricePaise: 120000,
    gender: 'all',
  },
  {
    name: 'Complete Blood Count (CBC)',
    description: 'Haemoglobin, blood cells and platelets.',
    pricePaise: 35000,
    gender: 'all',
  },
  {
    name: 'Lipid Profile',
    description: 'Cholesterol, HDL, LDL and triglycerides; 10–12 hours fasting.',
    pricePaise: 60000,
    gender: 'all',
  },
  {
    name: 'HbA1c (Diabetes Screening)',
    description: 'Average blood sugar over the last three months.',
    pricePaise: 45000,
    gender: 'all',
  },
  {
    name: 'Thyroid Profile (T3, T4, TSH)',
    description: 'Thyroid function panel.',
    pricePaise: 55000,
    gender: 'all',
  },
  {
    name: 'Chest X-Ray (PA view)',
    description: 'Digital chest radiograph with report.',
    pricePaise: 40000,
    gender: 'all',
  },
  {
    name: 'Ultrasound Abdomen',
    description: 'Whole abdomen ultrasound with radiologist report.',
    pricePaise: 150000,
    gender: 'all',
  },
  { name: 'ECG (12-lead)', description: 'Resting electrocardiogram.', pricePaise: 30000, gender: 'all' },
  {
    name: 'Mammography (Bilateral)',
    description: 'Breast screening X-ray of both sides.',
    pricePaise: 250000,
    gender: 'female',
  },
  { name: 'Pap Smear', description: 'Cervical cancer screening test.', pricePaise: 80000, gender: 'female' },
  {
    name: 'PSA (Prostate-Specific Antigen)',
    description: 'Prostate screening blood test.',
    pricePaise: 90000,
    gender: 'male',
  },
  {
    name: 'MRI Brain (Plain)',
    description: 'Magnetic resonance imaging of the brain without contrast.',
    pricePaise: 650000,
    gender: 'all',
  },
];
